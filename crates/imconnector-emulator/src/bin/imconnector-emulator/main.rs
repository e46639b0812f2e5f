//! The `imconnector-emulator` binary: a fake Bitrix24 portal for testing connectors in any
//! language.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use imconnector_emulator::{Emulator, ExposeSecret, RateLimit, SoftErrorShape};

/// A fake Bitrix24 portal serving the imconnector.* REST API, OAuth and events.
///
/// Prints the portal URL, the OAuth URL, the control API URL, the installed app's credentials
/// and a fresh token pair, then serves until Ctrl-C or SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "imconnector-emulator", version)]
struct Args {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Interface to bind; use 0.0.0.0 to serve other containers.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,

    /// How many open lines exist at start (ids 1..=N).
    #[arg(long, default_value_t = 1)]
    lines: usize,

    /// The portal's leaky bucket: off, standard (burst 50, 2 req/s) or enterprise (burst 250,
    /// 5 req/s). Over the limit the portal answers 503 QUERY_LIMIT_EXCEEDED.
    #[arg(long, value_enum, default_value_t = RateLimitArg::Off)]
    rate_limit: RateLimitArg,

    /// Access-token lifetime in seconds; after it the portal answers 401 expired_token.
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,

    /// Emulated seconds per real second (speeds up token expiry and the bucket's drain).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,

    /// Put imconnector.register/unregister soft errors at the top level of the body, as newer
    /// server builds do, instead of inside `result`.
    #[arg(long)]
    top_level_soft_errors: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RateLimitArg {
    /// No limit.
    Off,
    /// Ordinary plans: burst 50, drains 2 requests per second.
    Standard,
    /// Enterprise plans: burst 250, drains 5 requests per second.
    Enterprise,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = Args::parse();
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
    let started = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .lines(args.lines)
        .rate_limit(rate_limit)
        .token_ttl(Duration::from_secs(args.token_ttl))
        .time_scale(args.time_scale)
        .soft_error_shape(shape)
        .start()
        .await;
    let emulator = match started {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("imconnector-emulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    let app = emulator.app();
    let tokens = emulator.tokens();
    // Printing credentials is the point of this binary: a test harness reads them from here.
    println!("portal:            {}", emulator.rest_url());
    println!("oauth:             {}", emulator.oauth_url());
    println!("control:           {}", emulator.control_url());
    println!(
        "webhook:           {}",
        emulator.webhook_url().expose_secret()
    );
    println!("client_id:         {}", app.client_id);
    println!("client_secret:     {}", app.client_secret.expose_secret());
    println!(
        "application_token: {}",
        app.application_token.expose_secret()
    );
    println!("member_id:         {}", app.member_id);
    println!("access_token:      {}", tokens.access_token.expose_secret());
    println!(
        "refresh_token:     {}",
        tokens.refresh_token.expose_secret()
    );
    println!("lines:             {}", args.lines);
    wait_for_stop_signal().await;
    emulator.shutdown().await;
    ExitCode::SUCCESS
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
