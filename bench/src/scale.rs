//! Many portals in one registry: the memory each idle portal takes (its record, its client,
//! its task in the offline poller), the offline poller's schedule (`event.offline.get` calls
//! per second with every queue empty), and the keep-alive's schedule (OAuth refreshes and
//! store reads per second) over a simulated month of hourly walks, the emulator's clock
//! advanced in step.

use std::time::{Duration, Instant, SystemTime};

use imconnector::offline::OfflinePoller;
use imconnector::receiver::EventHandler;
use imconnector_emulator::ExposeSecret;
use imconnector_transport::portals::{
    KeepAlive, MemoryPortalStore, PortalRecord, PortalRegistry, PortalStore,
};
use imconnector_transport::{Client, MemberId, MemoryOfflineCursors, OAuthApp, RateLimit, Tokens};

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
    /// Resident bytes per portal its task in the [`OfflinePoller`] adds (spawned, not yet run).
    pub poller_bytes: f64,
    /// The offline poller's interval (no wake-ups: every portal is read once per interval).
    pub poll_interval: Duration,
    /// The first round: every portal read once, from the first `add_portal`.
    pub first_round: Duration,
    /// `event.offline.get` calls the emulator answered over one steady interval after it.
    pub steady_polls: u64,
    /// How long that interval really lasted.
    pub steady_window: Duration,
    /// One keep-alive walk over every portal with nothing due.
    pub idle_walk: Duration,
    /// Simulated days of hourly walks.
    pub days: u32,
    /// Pairs refreshed over the simulated days.
    pub refreshes: u64,
    /// Refreshes the emulator counted (must equal `refreshes`).
    pub emulator_refreshes: u64,
    /// REST calls (not OAuth) the emulator answered during the keep-alive's days.
    pub keep_alive_rest_calls: u64,
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

    /// `event.offline.get` calls per second of the poller's steady schedule, measured.
    pub fn polls_per_second(&self) -> f64 {
        self.steady_polls as f64 / self.steady_window.as_secs_f64().max(f64::EPSILON)
    }

    /// What the schedule asks for: one read per portal per interval.
    pub fn planned_polls_per_second(&self) -> f64 {
        self.portals as f64 / self.poll_interval.as_secs_f64()
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
/// emulated portal, issued evenly over the last 30 days) and measures; then polls every
/// portal's (empty) offline queue every `poll_interval` for a first round and one steady
/// interval; `days` of hourly keep-alive walks follow.
///
/// # Errors
/// When setup fails.
pub fn run(
    portals: usize,
    own_http_portals: usize,
    days: u32,
    poll_interval: Duration,
) -> Result<ScaleReport, SetupError> {
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
            registry
                .client_for(&MemberId::from(format!("{index:032x}")))
                .await?;
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
            own.client_for(&MemberId::from(format!("{index:032x}")))
                .await?;
        }
        Ok::<_, SetupError>((rss_bytes() - before) / own_http_portals.max(1) as f64)
    })?;
    // Before the clock moves: the pairs are still valid for the poller's calls.
    let polled = poll_schedule(&handle, &pairs, &rest_url, &credentials, poll_interval)?;
    // The schedule: hourly walks, the emulator's clock moving in step, so refreshed pairs
    // are dated by the time the walk stands at.
    let before = handle.counters().refreshes;
    let rest_before = rest_calls(&handle);
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
    let keep_alive_rest_calls = rest_calls(&handle) - rest_before;
    drop(runtime);
    drop(portal);
    Ok(ScaleReport {
        portals,
        record_bytes,
        shared_client_bytes,
        own_client_bytes,
        own_http_portals,
        poller_bytes: polled.bytes,
        poll_interval,
        first_round: polled.first_round,
        steady_polls: polled.steady_polls,
        steady_window: polled.steady_window,
        idle_walk,
        days,
        refreshes,
        emulator_refreshes,
        keep_alive_rest_calls,
        failures,
    })
}

/// An application whose handler has nothing to do: every queue is empty.
struct Idle;

impl EventHandler for Idle {}

/// What the offline poller's part measured.
struct Polled {
    bytes: f64,
    first_round: Duration,
    steady_polls: u64,
    steady_window: Duration,
}

/// Every REST call the emulator answered so far.
fn rest_calls(handle: &imconnector_emulator::EmulatorHandle) -> u64 {
    handle.counters().requests.values().sum()
}

fn offline_gets(handle: &imconnector_emulator::EmulatorHandle) -> u64 {
    handle
        .counters()
        .requests
        .get("event.offline.get")
        .copied()
        .unwrap_or(0)
}

/// Every portal in one [`OfflinePoller`] (default settings but `interval`), on a
/// current-thread runtime so that the tasks `add_portal` spawns have not run when the memory
/// is read; then the first round and, half an interval later, one steady interval of reads.
fn poll_schedule(
    handle: &imconnector_emulator::EmulatorHandle,
    pairs: &[imconnector_emulator::Tokens],
    rest_url: &str,
    credentials: &OAuthApp,
    interval: Duration,
) -> Result<Polled, SetupError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let portals = pairs.len();
    let issued = SystemTime::now();
    let template = Client::builder()
        .rate_limit(RateLimit::Off)
        .http_client(reqwest::Client::builder().no_proxy().build()?);
    // Fresh dates: the poller's calls must not refresh the pairs first.
    let registry = PortalRegistry::new(credentials.clone(), MemoryPortalStore::new())
        .client_template(template);
    runtime.block_on(async {
        let mut clients = Vec::with_capacity(portals);
        for (index, pair) in pairs.iter().enumerate() {
            let member_id = MemberId::from(format!("{index:032x}"));
            let tokens = Tokens::new(
                pair.access_token.expose_secret(),
                pair.refresh_token.expose_secret(),
            )
            .with_client_endpoint(rest_url.to_owned())
            .with_member_id(member_id.clone())
            .with_expires_at(issued + HOUR)
            .with_issued_at(issued);
            registry
                .store()
                .save(&PortalRecord::new(
                    member_id.clone(),
                    format!("{:032x}", index + 1),
                    tokens,
                ))
                .await?;
            clients.push((member_id.clone(), registry.client_for(&member_id).await?));
        }
        let poller = OfflinePoller::new(Idle, MemoryOfflineCursors::new()).interval(interval);
        let before = rss_bytes();
        let gets_before = offline_gets(handle);
        let started = Instant::now();
        for (index, (member_id, client)) in clients.into_iter().enumerate() {
            poller.add_portal(member_id, format!("portal-{index}.bitrix24.com"), client);
        }
        let bytes = (rss_bytes() - before) / portals.max(1) as f64;
        let deadline = started + Duration::from_secs(600);
        while offline_gets(handle) - gets_before < portals as u64 {
            if Instant::now() > deadline {
                return Err(SetupError::from(
                    "the poller did not read every portal once within 10 minutes",
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let first_round = started.elapsed();
        // Each portal reads again one interval after its last read: a window of one interval
        // from half an interval on holds exactly the second round (while a round takes less
        // than half an interval, which the first round shows).
        tokio::time::sleep(interval / 2).await;
        let steady_before = offline_gets(handle);
        let window_started = Instant::now();
        tokio::time::sleep(interval).await;
        let steady_polls = offline_gets(handle) - steady_before;
        let steady_window = window_started.elapsed();
        // The calls counted were answered, not refused: a portal's read goes through.
        let report = poller
            .poll_now(&MemberId::from(format!("{:032x}", 0)))
            .await?;
        poller.shutdown(Duration::from_secs(60)).await;
        if report.rows != 0 {
            return Err(SetupError::from("an idle portal's queue was not empty"));
        }
        Ok(Polled {
            bytes,
            first_round,
            steady_polls,
            steady_window,
        })
    })
}
