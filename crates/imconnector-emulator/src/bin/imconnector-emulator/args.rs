//! The command line.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A fake Bitrix24 portal serving the imconnector.* REST API, OAuth and events.
///
/// Prints the portal URL, the OAuth URL, the control API URL, the installed app's credentials
/// and a fresh token pair (or, with --json, one JSON object), then serves until Ctrl-C or
/// SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "imconnector-emulator", version)]
pub(crate) struct Args {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 0)]
    pub(crate) port: u16,

    /// Interface to bind; use 0.0.0.0 to serve other containers (then --control-token is
    /// required).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: IpAddr,

    /// The address the portal advertises (client_endpoint, server_endpoint, event auth, the
    /// webhook), e.g. https://emulator:8443 behind a proxy or in a container.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<String>,

    /// Require `Authorization: Bearer TOKEN` on the control API (/_emulator/). Mandatory when
    /// --host is not a loopback address. Also read from IMCONNECTOR_EMULATOR_CONTROL_TOKEN.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "IMCONNECTOR_EMULATOR_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub(crate) control_token: Option<String>,

    /// Serve HTTPS (plain HTTP keeps working on the same port) with a certificate made at
    /// start for 127.0.0.1, localhost and the public URL's host; its CA is written to a file
    /// whose path is printed.
    #[arg(long)]
    pub(crate) tls: bool,

    /// Where to write the generated CA's PEM (default: a file in the temporary directory).
    #[arg(long, value_name = "PATH")]
    pub(crate) tls_ca_file: Option<PathBuf>,

    /// Serve HTTPS with this PEM certificate chain (with --tls-key) instead of a generated one.
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// With HTTPS on, let the incoming webhook answer over plain HTTP too (by default it
    /// answers INVALID_REQUEST "Https required.", like the portal).
    #[arg(long)]
    pub(crate) allow_http_webhooks: bool,

    /// Print one JSON object with every URL and credential, and nothing else, on stdout.
    #[arg(long)]
    pub(crate) json: bool,

    /// Also write that JSON object to this file once the emulator is ready.
    #[arg(long, value_name = "PATH")]
    pub(crate) ready_file: Option<PathBuf>,

    /// The app's client_id (default: random).
    #[arg(long)]
    pub(crate) client_id: Option<String>,

    /// The app's client_secret (default: random). Also read from
    /// IMCONNECTOR_EMULATOR_CLIENT_SECRET.
    #[arg(
        long,
        env = "IMCONNECTOR_EMULATOR_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub(crate) client_secret: Option<String>,

    /// The incoming webhook's code, /rest/1/CODE/ (default: random).
    #[arg(long)]
    pub(crate) webhook_code: Option<String>,

    /// Seed every generated credential and token, for reproducible runs (tests only: seeded
    /// tokens are predictable).
    #[arg(long)]
    pub(crate) seed: Option<u64>,

    /// How many open lines exist at start (ids 1..=N).
    #[arg(long, default_value_t = 1)]
    pub(crate) lines: usize,

    /// The portal's leaky bucket: off, standard (burst 50, 2 req/s) or enterprise (burst 250,
    /// 5 req/s). Over the limit the portal answers 503 QUERY_LIMIT_EXCEEDED.
    #[arg(long, value_enum, default_value_t = RateLimitArg::Off)]
    pub(crate) rate_limit: RateLimitArg,

    /// Access-token lifetime in seconds; after it the portal answers 401 expired_token.
    #[arg(long, default_value_t = 3600)]
    pub(crate) token_ttl: u64,

    /// Emulated seconds per real second (speeds up token expiry and the bucket's drain).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) time_scale: f64,

    /// Put imconnector.register/unregister soft errors at the top level of the body, as newer
    /// server builds do, instead of inside `result`.
    #[arg(long)]
    pub(crate) top_level_soft_errors: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RateLimitArg {
    /// No limit.
    Off,
    /// Ordinary plans: burst 50, drains 2 requests per second.
    Standard,
    /// Enterprise plans: burst 250, drains 5 requests per second.
    Enterprise,
}
