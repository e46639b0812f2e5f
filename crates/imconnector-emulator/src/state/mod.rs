//! The portal's state: one struct behind one mutex. Every REST call, OAuth grant and control
//! action runs synchronously under the lock (never across an `.await`), and the events it
//! triggers are queued in the outbox and POSTed after the lock is released.

mod bindings;
#[cfg(test)]
mod bounded_tests;
pub(crate) mod chats;
mod connectors;
mod deliveries;
pub(crate) mod events;
pub(crate) mod fault_engine;
pub(crate) mod grants;
pub(crate) mod install_bodies;
pub(crate) mod installs;
pub(crate) mod offline;
mod operator;
mod read;
pub(crate) mod records;
mod settings;
mod settings_page;
pub(crate) mod statuses;
pub(crate) mod token_hold;
pub(crate) mod tokens;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::Rng;
use secrecy::SecretString;
use serde::Serialize;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{
    Faults, OAuthFaults, OperatingLimit, RateLimit, SettingsPostShape, SoftErrorShape,
};
use crate::delivery::{Courier, Outgoing};
use crate::limits::{LeakyBucket, OperatingLedger};
use crate::snapshot::{Counters, DeliveryOutcome, DeliveryRecord, EventDelivery, Tokens};
pub(crate) use bindings::{Binding, Duplicate, NewBinding};
use fault_engine::FaultEngine;
use records::{Chat, Connector, Line, Message, User};
use token_hold::{HoldGate, TokenRequestHold};
use tokens::{random_token, TokenStore, SCOPE};

/// The portal's addresses.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// `http://127.0.0.1:PORT`
    pub(crate) base: String,
    /// `http://127.0.0.1:PORT/rest/`
    pub(crate) rest: String,
    /// `127.0.0.1:PORT`
    pub(crate) domain: String,
}

/// How much of its history the portal keeps, so a long run stays within bounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Caps {
    /// Event POSTs kept in the log (a ring: the oldest go first).
    pub(crate) event_log: usize,
    /// Items of `send.status.delivery`/`.reading` kept (a ring).
    pub(crate) deliveries: usize,
    /// Distinct unknown method names counted in `counters.requests` (known methods always
    /// count); calls of further unknown names are counted under [`OTHER_METHODS`].
    pub(crate) method_names: usize,
}

/// The `counters.requests` key of unknown method names once the cap is reached.
pub(crate) const OTHER_METHODS: &str = "(other)";

impl Default for Caps {
    fn default() -> Self {
        Self {
            event_log: 10_000,
            deliveries: 10_000,
            method_names: 256,
        }
    }
}

/// Pushes onto a ring of at most `cap` items, dropping the oldest.
pub(crate) fn push_capped<T>(ring: &mut VecDeque<T>, cap: usize, item: T) {
    while ring.len() >= cap.max(1) {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// Settings that can change at run time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) caps: Caps,
    /// Whether the port serves HTTPS (fixed at start).
    pub(crate) tls: bool,
    /// Whether the incoming webhook answers over plain HTTP while HTTPS is on.
    pub(crate) allow_http_webhooks: bool,
    pub(crate) rate_limit: RateLimit,
    pub(crate) token_ttl: Duration,
    pub(crate) operating: Option<OperatingLimit>,
    pub(crate) soft_error_shape: SoftErrorShape,
    pub(crate) settings_post_shape: SettingsPostShape,
    pub(crate) faults: Option<Faults>,
    pub(crate) oauth_faults: Option<OAuthFaults>,
}

/// An installed app.
pub(crate) struct AppRecord {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) application_token: SecretString,
    /// `VERSION` (`app.info`, lifecycle events): 1 until the app is updated.
    pub(crate) version: u32,
    /// The scopes the app was granted (`scope`, tokens' `scope`); `basic` is implied.
    pub(crate) scope: Vec<String>,
}

impl AppRecord {
    /// The granted scopes as tokens carry them (`imopenlines,imconnector`).
    pub(crate) fn scope_text(&self) -> String {
        self.scope.join(",")
    }

    /// Whether the app holds `scope` (`basic` always).
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        scope == "basic" || self.scope.iter().any(|granted| granted == scope)
    }
}

/// A new app with portal-like credentials.
pub(crate) fn new_app(rng: &mut impl Rng) -> AppRecord {
    AppRecord {
        client_id: format!(
            "local.{:013x}.{:08}",
            rng.random::<u64>() >> 12,
            rng.random_range(0..100_000_000u32)
        ),
        client_secret: SecretString::from(Alphanumeric.sample_string(rng, 50)),
        application_token: SecretString::from(random_token(rng)),
        version: 1,
        scope: SCOPE.split(',').map(str::to_owned).collect(),
    }
}

/// The portal's incoming webhook (`/rest/{user}/{code}/`).
pub(crate) struct Webhook {
    pub(crate) user_id: u64,
    pub(crate) code: SecretString,
}

/// Id sequences, starting at values that look like a used portal.
#[derive(Debug)]
pub(crate) struct Ids {
    pub(crate) user: u64,
    pub(crate) chat: u64,
    pub(crate) message: u64,
    pub(crate) session: u64,
    pub(crate) file: u64,
    pub(crate) binding: u64,
}

impl Default for Ids {
    fn default() -> Self {
        Self {
            user: 500,
            chat: 1800,
            message: 86_000,
            session: 3200,
            file: 9000,
            binding: 550,
        }
    }
}

/// Takes the next id of a sequence.
pub(crate) fn next_id(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}

/// Everything the portal knows.
pub(crate) struct Portal {
    /// Emulated unix time, refreshed each time the lock is taken.
    now: f64,
    /// Emulated seconds per real second.
    time_scale: f64,
    urls: Urls,
    member_id: String,
    settings: Settings,
    apps: Vec<AppRecord>,
    users: Vec<User>,
    webhook: Webhook,
    tokens: TokenStore,
    lines: BTreeMap<i64, Line>,
    registry: BTreeMap<String, Connector>,
    statuses: BTreeMap<(String, i64), statuses::StatusRow>,
    /// `(connector, external user id)` → Bitrix user id.
    customers: BTreeMap<(String, String), u64>,
    chats: BTreeMap<u64, Chat>,
    /// `(connector, line, external chat id)` → the ids of its chats, oldest first: the lookup of
    /// every customer message, which a scan of `chats` made linear in the chats.
    chat_index: HashMap<(String, i64, String), Vec<u64>>,
    messages: BTreeMap<u64, Message>,
    deliveries: VecDeque<DeliveryRecord>,
    bindings: Vec<Binding>,
    offline: offline::OfflineQueue,
    /// The latest event POSTs; the front one has `seq == events_emitted - len`.
    event_log: VecDeque<EventDelivery>,
    /// Events emitted so far (the next event's `seq`).
    events_emitted: u64,
    /// Events queued under the lock, POSTed once it is released.
    outbox: Vec<Outgoing>,
    counters: Counters,
    ids: Ids,
    bucket: LeakyBucket,
    operating: OperatingLedger,
    faults: FaultEngine,
    /// Install state of the apps added with a setup (`add_app`).
    installs: installs::Installs,
    /// The pair the latest successful `/oauth/token/` grant answered.
    last_grant: Option<Tokens>,
    /// Draws credentials of apps installed later (seeded for reproducible runs).
    rng: StdRng,
}

/// What a new portal starts with; everything else starts empty.
pub(crate) struct PortalSeed {
    pub(crate) time_scale: f64,
    pub(crate) urls: Urls,
    pub(crate) member_id: String,
    pub(crate) settings: Settings,
    /// The app installed at start.
    pub(crate) app: AppRecord,
    pub(crate) webhook: Webhook,
    /// Seeds the tokens' generator (random when `None`).
    pub(crate) token_seed: Option<u64>,
    pub(crate) lines: BTreeMap<i64, Line>,
    pub(crate) rng: StdRng,
}

impl Portal {
    /// A portal with the admin (user 1), an employee without admin rights (user 2), the
    /// seed's app and lines, and nothing else yet.
    pub(crate) fn new(seed: PortalSeed) -> Self {
        let faults = FaultEngine::new(
            seed.settings.faults.clone(),
            seed.settings.oauth_faults.clone(),
        );
        Self {
            now: 0.0,
            time_scale: seed.time_scale,
            urls: seed.urls,
            member_id: seed.member_id,
            settings: seed.settings,
            apps: vec![seed.app],
            users: vec![
                User {
                    id: 1,
                    name: "Emulator Admin".to_owned(),
                    admin: true,
                },
                User {
                    id: 2,
                    name: "Emulator Employee".to_owned(),
                    admin: false,
                },
            ],
            webhook: seed.webhook,
            tokens: TokenStore::new(seed.token_seed),
            lines: seed.lines,
            registry: BTreeMap::new(),
            statuses: BTreeMap::new(),
            customers: BTreeMap::new(),
            chats: BTreeMap::new(),
            chat_index: HashMap::new(),
            messages: BTreeMap::new(),
            deliveries: VecDeque::new(),
            bindings: Vec::new(),
            offline: offline::OfflineQueue::default(),
            event_log: VecDeque::new(),
            events_emitted: 0,
            outbox: Vec::new(),
            counters: Counters::default(),
            ids: Ids::default(),
            bucket: LeakyBucket::default(),
            operating: OperatingLedger::default(),
            faults,
            installs: installs::Installs::default(),
            last_grant: None,
            rng: seed.rng,
        }
    }

    /// Adds an app with new credentials (not installed yet when it comes with a setup) and
    /// returns its index.
    pub(crate) fn add_app(&mut self, setup: Option<crate::install::AppSetup>) -> usize {
        let record = new_app(&mut self.rng);
        self.apps.push(record);
        let app = self.apps.len() - 1;
        if let Some(setup) = setup {
            self.add_installable(app, setup);
        }
        app
    }

    /// The user with `id`, if it is a portal employee.
    pub(crate) fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }

    /// The index of the app with `client_id`.
    pub(crate) fn app_index(&self, client_id: &str) -> Option<usize> {
        self.apps.iter().position(|app| app.client_id == client_id)
    }

    /// The app that registered `connector`, if it is registered.
    pub(crate) fn owner_of(&self, connector: &str) -> Option<usize> {
        let owner = &self.registry.get(connector)?.owner_client_id;
        self.app_index(owner)
    }

    /// Counts one call of `method` (lowercase). Methods the portal knows always get their own
    /// entry; unknown names only while fewer than the cap are counted, so junk cannot grow
    /// the map without bound.
    pub(crate) fn count_request(&mut self, method: &str, known: bool) {
        let requests = &mut self.counters.requests;
        let key = if known
            || requests.contains_key(method)
            || requests.len() < self.settings.caps.method_names
        {
            method
        } else {
            OTHER_METHODS
        };
        *requests.entry(key.to_owned()).or_default() += 1;
    }

    /// The log entry of event `seq`, while it is still in the ring.
    pub(crate) fn event_entry(&mut self, seq: u64) -> Option<&mut EventDelivery> {
        let first = self.events_emitted - self.event_log.len() as u64;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.event_log.get_mut(index)
    }

    /// Token lifetime in emulated seconds.
    pub(crate) fn token_ttl_secs(&self) -> f64 {
        self.settings.token_ttl.as_secs_f64()
    }
}

/// The portal plus what lives outside the lock.
pub(crate) struct Shared {
    portal: Mutex<Portal>,
    pub(crate) clock: Clock,
    pub(crate) urls: Urls,
    courier: Courier,
    /// The bearer token the control API requires, if any.
    pub(crate) control_token: Option<SecretString>,
    /// Number of finished event POSTs; waiters watch it.
    pub(crate) finished_deliveries: watch::Sender<u64>,
    /// Where the next token request waits, when a test holds it.
    token_hold: Mutex<Option<Arc<HoldGate>>>,
}

impl Shared {
    /// The HTTP client events and install POSTs go out with.
    pub(crate) fn http(&self) -> &reqwest::Client {
        self.courier.http()
    }

    pub(crate) fn new(
        portal: Portal,
        clock: Clock,
        courier: Courier,
        control_token: Option<SecretString>,
    ) -> Self {
        let urls = portal.urls.clone();
        Self {
            portal: Mutex::new(portal),
            clock,
            urls,
            courier,
            control_token,
            finished_deliveries: watch::channel(0).0,
            token_hold: Mutex::default(),
        }
    }

    /// Holds the next token request (replacing a hold no request reached yet).
    pub(crate) fn hold_next_token_request(&self) -> TokenRequestHold {
        let gate = Arc::new(HoldGate::default());
        *self
            .token_hold
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&gate));
        TokenRequestHold::new(gate)
    }

    /// The hold the arriving token request must wait at, if any (only one request takes it).
    pub(crate) fn take_token_hold(&self) -> Option<Arc<HoldGate>> {
        self.token_hold
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Locks the portal with `now` refreshed. A panic under the lock cannot leave the state
    /// half-written in a way later calls would trip over, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Portal> {
        let mut portal = self.portal.lock().unwrap_or_else(PoisonError::into_inner);
        portal.now = self.clock.now();
        portal
    }

    /// Runs `action` under the lock, then POSTs the events it queued.
    pub(crate) fn run<R>(self: &Arc<Self>, action: impl FnOnce(&mut Portal) -> R) -> R {
        let (result, outgoing) = {
            let mut portal = self.lock();
            let result = action(&mut portal);
            (result, std::mem::take(&mut portal.outbox))
        };
        for event in outgoing {
            let shared = Arc::clone(self);
            self.courier.send(event, move |seq, outcome| {
                shared.record_delivery(seq, outcome)
            });
        }
        result
    }

    /// Stores the outcome of the event POST `seq` and wakes those waiting for deliveries.
    fn record_delivery(&self, seq: u64, outcome: DeliveryOutcome) {
        {
            let mut portal = self.lock();
            match &outcome {
                DeliveryOutcome::Delivered { .. } => portal.counters.events_delivered += 1,
                _ => portal.counters.events_failed += 1,
            }
            if let Some(entry) = portal.event_entry(seq) {
                entry.outcome = outcome;
            }
        }
        self.finished_deliveries
            .send_modify(|finished| *finished += 1);
    }
}
