//! The `imconnector-emulator` binary: a fake Bitrix24 portal for testing connectors in any
//! language.

mod args;
mod summary;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use imconnector_emulator::{Emulator, EmulatorBuilder, RateLimit, SoftErrorShape};

use args::{Args, RateLimitArg};

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr, so `--json` leaves stdout to the one JSON object.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
    let emulator = match builder(&args).start().await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("imconnector-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let summary = summary::summary(&emulator);
    let json = summary.to_string();
    if let Some(path) = &args.ready_file {
        // Written whole under a temporary name, then renamed: a watcher never reads half of it.
        let partial = path.with_extension("partial");
        let written = std::fs::write(&partial, format!("{json}\n"))
            .and_then(|()| std::fs::rename(&partial, path));
        if let Err(error) = written {
            eprintln!(
                "imconnector-emulator: cannot write {}: {error}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", summary::text(&summary));
    }
    wait_for_stop_signal().await;
    shutdown(emulator, args.ready_file.as_deref()).await;
    ExitCode::SUCCESS
}

fn builder(args: &Args) -> EmulatorBuilder {
    let rate_limit = match args.rate_limit {
        RateLimitArg::Off => RateLimit::Off,
        RateLimitArg::Standard => RateLimit::Standard,
        RateLimitArg::Enterprise => RateLimit::Enterprise,
    };
    let shape = if args.top_level_soft_errors {
        SoftErrorShape::TopLevel
    } else {
        SoftErrorShape::Wrapped
    };
    let mut builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .lines(args.lines)
        .rate_limit(rate_limit)
        .token_ttl(Duration::from_secs(args.token_ttl))
        .time_scale(args.time_scale)
        .soft_error_shape(shape)
        .allow_http_webhooks(args.allow_http_webhooks);
    if let Some(url) = &args.public_url {
        builder = builder.public_url(url);
    }
    if let Some(token) = &args.control_token {
        builder = builder.control_token(token);
    }
    if let Some(client_id) = &args.client_id {
        builder = builder.client_id(client_id);
    }
    if let Some(secret) = &args.client_secret {
        builder = builder.client_secret(secret);
    }
    if let Some(code) = &args.webhook_code {
        builder = builder.webhook_code(code);
    }
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls_files(cert, key);
    } else if let Some(path) = &args.tls_ca_file {
        builder = builder.tls_ca_file(path);
    } else if args.tls {
        builder = builder.tls();
    }
    builder
}

async fn shutdown(emulator: Emulator, ready_file: Option<&std::path::Path>) {
    emulator.shutdown().await;
    if let Some(path) = ready_file {
        let _ = std::fs::remove_file(path);
    }
}

/// Ctrl-C, or SIGTERM (what container runtimes send) on Unix.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("imconnector-emulator: cannot wait for Ctrl-C: {error}");
    }
}
