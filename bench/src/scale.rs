//! Many portals in one registry: the memory each idle portal takes (its record, then its
//! client too), and the keep-alive's schedule (OAuth refreshes and store reads per second)
//! over a simulated month of hourly walks, the emulator's clock advanced in step.

use std::time::{Duration, Instant, SystemTime};

use imconnector_emulator::ExposeSecret;
use imconnector_transport::portals::{
    KeepAlive, MemoryPortalStore, PortalRecord, PortalRegistry, PortalStore,
};
use imconnector_transport::{Client, OAuthApp, RateLimit, Tokens};

use crate::measure::proc_status_kib;
use crate::portal::{Portal, SetupError};

const HOUR: Duration = Duration::from_secs(3600);

/// What the scale benchmark measured.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    /// Portals installed in the registry.
    pub portals: usize,
    /// Resident bytes per portal once its record is in the registry's memory store.
    pub record_bytes: f64,
    /// Resident bytes per portal its client adds (the registry's template shares one HTTP
    /// client, as a many-portal application should).
    pub shared_client_bytes: f64,
    /// Resident bytes per portal a client with an HTTP client of its own (the default
    /// template) adds, measured over `own_http_portals` portals.
    pub own_client_bytes: f64,
    /// Portals the own-HTTP-client figure was measured over.
    pub own_http_portals: usize,
    /// One keep-alive walk over every portal with nothing due.
    pub idle_walk: Duration,
    /// Simulated days of hourly walks.
    pub days: u32,
    /// Pairs refreshed over the simulated days.
    pub refreshes: u64,
    /// Refreshes the emulator counted (must equal `refreshes`).
    pub emulator_refreshes: u64,
    /// Walk failures (must be 0).
    pub failures: usize,
}

impl ScaleReport {
    /// Simulated seconds.
    pub fn seconds(&self) -> f64 {
        f64::from(self.days) * 86_400.0
    }

    /// OAuth refreshes per second of the keep-alive schedule.
    pub fn refreshes_per_second(&self) -> f64 {
        self.refreshes as f64 / self.seconds()
    }

    /// Store reads (one per portal per walk) per second of the schedule.
    pub fn store_reads_per_second(&self) -> f64 {
        self.portals as f64 / HOUR.as_secs_f64()
    }
}

fn rss_bytes() -> f64 {
    proc_status_kib("VmRSS").unwrap_or_default() as f64 * 1024.0
}

/// Installs `portals` portals (distinct `member_id`s, each with a pair of its own from one
/// emulated portal, issued evenly over the last 30 days) and measures; `days` of hourly
/// keep-alive walks follow.
///
/// # Errors
/// When setup fails.
pub fn run(portals: usize, own_http_portals: usize, days: u32) -> Result<ScaleReport, SetupError> {
    let portal = Portal::start(imconnector_emulator::Emulator::builder(), 2)?;
    let handle = portal.handle().clone();
    let app = handle.app();
    let credentials = OAuthApp::new(app.client_id.clone(), app.client_secret.expose_secret());
    let rest_url = handle.rest_url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let policy = KeepAlive::new();
    let started = SystemTime::now();
    // Pairs drawn before the baseline: the emulator's own state is not the registry's.
    let pairs: Vec<_> = (0..portals).map(|_| handle.tokens()).collect();
    let template = Client::builder()
        .rate_limit(RateLimit::Off)
        .oauth_server(handle.oauth_url())
        .http_client(reqwest::Client::builder().no_proxy().build()?);
    let registry = PortalRegistry::new(credentials.clone(), MemoryPortalStore::new())
        .client_template(template);
    let spread = policy.idle_limit().as_secs_f64() / portals.max(1) as f64;
    let record_of = |index: usize, pair: &imconnector_emulator::Tokens| {
        let issued = started - Duration::from_secs_f64(spread * index as f64);
        let tokens = Tokens::new(
            pair.access_token.expose_secret(),
            pair.refresh_token.expose_secret(),
        )
        .with_client_endpoint(rest_url.clone())
        .with_member_id(format!("{index:032x}"))
        .with_expires_at(issued + HOUR)
        .with_issued_at(issued);
        PortalRecord::new(
            format!("{index:032x}"),
            format!("{:032x}", index + 1),
            tokens,
        )
        .with_domain(format!("portal-{index}.bitrix24.com"))
    };
    let (record_bytes, shared_client_bytes, idle_walk) = runtime.block_on(async {
        let baseline = rss_bytes();
        for (index, pair) in pairs.iter().enumerate() {
            registry.store().save(&record_of(index, pair)).await?;
        }
        let records = rss_bytes();
        for index in 0..portals {
            registry.client_for(&format!("{index:032x}")).await?;
        }
        let clients = rss_bytes();
        // Nothing is due a minute before the first pair's 30 days are up.
        let walk_started = Instant::now();
        let walk = registry
            .keep_alive_once(&policy, started - Duration::from_secs(60))
            .await?;
        let idle_walk = walk_started.elapsed();
        if !walk.refreshed.is_empty() {
            return Err(SetupError::from("a walk with nothing due refreshed a pair"));
        }
        let per_portal = |bytes: f64| bytes / portals.max(1) as f64;
        Ok::<_, SetupError>((
            per_portal(records - baseline),
            per_portal(clients - records),
            idle_walk,
        ))
    })?;
    let own_client_bytes = runtime.block_on(async {
        let own = PortalRegistry::new(credentials.clone(), MemoryPortalStore::new())
            .client_template(Client::builder().rate_limit(RateLimit::Off));
        for (index, pair) in pairs.iter().take(own_http_portals).enumerate() {
            own.store().save(&record_of(index, pair)).await?;
        }
        let before = rss_bytes();
        for index in 0..own_http_portals {
            own.client_for(&format!("{index:032x}")).await?;
        }
        Ok::<_, SetupError>((rss_bytes() - before) / own_http_portals.max(1) as f64)
    })?;
    // The schedule: hourly walks, the emulator's clock moving in step, so refreshed pairs
    // are dated by the time the walk stands at.
    let before = handle.counters().refreshes;
    let (refreshes, failures) = runtime.block_on(async {
        let mut refreshes = 0_u64;
        let mut failures = 0;
        for hour in 1..=days * 24 {
            handle.advance_clock(HOUR);
            let walk = registry
                .keep_alive_once(&policy, started + HOUR * hour)
                .await?;
            refreshes += walk.refreshed.len() as u64;
            failures += walk.failed.len();
        }
        Ok::<_, SetupError>((refreshes, failures))
    })?;
    let emulator_refreshes = handle.counters().refreshes - before;
    drop(runtime);
    drop(portal);
    Ok(ScaleReport {
        portals,
        record_bytes,
        shared_client_bytes,
        own_client_bytes,
        own_http_portals,
        idle_walk,
        days,
        refreshes,
        emulator_refreshes,
        failures,
    })
}
