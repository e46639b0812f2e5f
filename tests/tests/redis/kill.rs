//! The connector as a child process (`kill-connector`), SIGKILLed 5 times at random moments
//! (a seeded generator; the seed is printed, `IMCONNECTOR_KILL_SEED=N` replays it) and started
//! again, while customers send 1,000 messages across 50 chats (issue 22). The customers resubmit
//! every message whose acceptance they did not see, as a messenger redelivers what it was not
//! acknowledged. Afterwards the emulator's messages are judged against what the child reported:
//! every accepted message is in the portal exactly once or was reported in doubt (at most what
//! was in flight at each kill), none is silently lost, and each chat keeps its order.
//!
//! Every start also finds the portal's access token expired, so each new process refreshes and
//! the next one must find the rotated pair in the token store (Redis), as the README's client
//! does.
//!
//! The inbound scenarios of issue 21 live in `kill/`: what they share (the child connector's
//! life in `child.rs`, the operators' replies and the portal's intake in `operators.rs`, the
//! judgement of the handler's effects and the report in `verdict.rs`), the online Redis inbox
//! in `inbox.rs`, two replicas in `replicas.rs`, offline events (no listener, the poller's
//! `process_id` in Redis) in `offline.rs`.

mod child;
mod inbox;
mod offline;
mod operators;
mod replicas;
mod verdict;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use imconnector_emulator::{Direction, Emulator, Faults};
use imconnector_tests::kill::{
    message_index, Plan, PortalAccess, RedisAccess, Report, Scenario, MOST_IN_FLIGHT, PLAN_VAR,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{backend, clean, portal_tokens, redis_url, unique_prefix, PATIENCE};

const KILLS: usize = 5;
const MESSAGES: u64 = 1_000;
const CHATS: u64 = 50;
/// Every request waits this long at the portal, so requests are in flight when a kill comes.
const PORTAL_LATENCY: Duration = Duration::from_millis(20);
/// After the acceptance that arms a kill, the kill waits up to this long (drawn at random).
const MOST_KILL_DELAY_MS: u64 = 60;

/// The seed of this run: `IMCONNECTOR_KILL_SEED`, or a fresh one.
fn seed() -> u64 {
    std::env::var("IMCONNECTOR_KILL_SEED")
        .ok()
        .and_then(|seed| seed.trim().parse().ok())
        .unwrap_or_else(rand::random)
}

/// What the children reported, over all their runs.
#[derive(Debug, Default)]
struct Log {
    accepted: BTreeSet<u64>,
    stored: BTreeSet<u64>,
    in_doubt: BTreeSet<u64>,
    not_sent: BTreeSet<u64>,
    /// In-doubt reports of each run (a run reports what the kill before it left in doubt).
    in_doubt_per_run: Vec<usize>,
    kills: usize,
    done: bool,
}

impl Log {
    /// The first message the next run submits: the one after the last acceptance seen.
    fn next_to_submit(&self) -> u64 {
        self.accepted.last().map_or(0, |last| last + 1)
    }

    fn record(&mut self, report: &Report) {
        match *report {
            Report::Ready => self.in_doubt_per_run.push(0),
            Report::Accepted(index) => {
                self.accepted.insert(index);
            }
            Report::Stored(index) => {
                self.stored.insert(index);
            }
            Report::InDoubt(index) => {
                self.in_doubt.insert(index);
                if let Some(count) = self.in_doubt_per_run.last_mut() {
                    *count += 1;
                }
            }
            Report::NotSent(index) => {
                self.not_sent.insert(index);
            }
            Report::Done => self.done = true,
        }
    }
}

fn spawn_child(plan: &Plan) -> (Child, ChildStdout) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kill-connector"))
        .env(PLAN_VAR, plan.to_env())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("kill-connector starts");
    let stdout = child.stdout.take().expect("piped stdout");
    (child, stdout)
}

/// Runs one child until it finishes, or, when `kill_at` is set, until it accepted message
/// `kill_at` or a later one and a random delay passed: then SIGKILLs it. Every line it printed
/// before dying is recorded.
async fn run_child(plan: &Plan, kill_at: Option<u64>, rng: &mut StdRng, log: &mut Log) {
    let (mut child, stdout) = spawn_child(plan);
    let mut lines = BufReader::new(stdout).lines();
    let delay = Duration::from_millis(rng.random_range(0..=MOST_KILL_DELAY_MS));
    let mut kill_deadline: Option<tokio::time::Instant> = None;
    let started = Instant::now();
    let killed = loop {
        assert!(started.elapsed() < PATIENCE, "a run of the child hangs");
        let line = match kill_deadline {
            Some(deadline) => tokio::select! {
                line = lines.next_line() => line,
                () = tokio::time::sleep_until(deadline) => break true,
            },
            None => tokio::time::timeout(PATIENCE, lines.next_line())
                .await
                .expect("the child reports"),
        };
        let Some(line) = line.expect("the child's stdout") else {
            break false;
        };
        let Some(report) = Report::parse(&line) else {
            continue;
        };
        log.record(&report);
        if let (Report::Accepted(index), Some(at), None) = (&report, kill_at, kill_deadline) {
            if *index >= at {
                kill_deadline = Some(tokio::time::Instant::now() + delay);
            }
        }
    };
    if killed {
        // SIGKILL: no destructor, no flush, no goodbye.
        child.start_kill().expect("SIGKILL");
        log.kills += 1;
    }
    // What it printed before it died still counts.
    while let Some(line) = lines.next_line().await.expect("the child's stdout") {
        if let Some(report) = Report::parse(&line) {
            log.record(&report);
        }
    }
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the child ends")
        .expect("its status");
    if !killed {
        assert!(
            status.success() && log.done,
            "the last run must finish: {status}"
        );
    }
}

/// How the portal's messages compare with what the children reported.
#[derive(Debug, Default)]
struct Judgement {
    /// Accepted, not in the portal, never reported in doubt or not sent.
    silently_lost: Vec<u64>,
    /// Copies beyond the first.
    duplicated: Vec<u64>,
    /// Chats whose messages are out of order.
    out_of_order: Vec<String>,
    /// In the portal but never accepted.
    stored_unaccepted: Vec<u64>,
    /// Accepted and in the portal.
    in_portal: usize,
    /// Reported in doubt and in fact in the portal.
    in_doubt_stored: usize,
}

fn judge(portal: &Emulator, log: &Log) -> Judgement {
    let mut copies: HashMap<u64, usize> = HashMap::new();
    let mut chats: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for message in portal.all_messages() {
        if message.direction != Direction::Incoming {
            continue;
        }
        for id in &message.external_ids {
            let index = message_index(id).expect("only the scenario's messages");
            *copies.entry(index).or_default() += 1;
            chats.entry(message.chat_id).or_default().push(index);
        }
    }
    let mut judgement = Judgement::default();
    for (chat, indices) in &chats {
        let in_order = indices.windows(2).all(|pair| pair[0] < pair[1]);
        let one_customer_chat = indices
            .iter()
            .all(|index| index % CHATS == indices[0] % CHATS);
        if !in_order || !one_customer_chat {
            judgement
                .out_of_order
                .push(format!("chat {chat}: {indices:?}"));
        }
    }
    for &index in &log.accepted {
        match copies.get(&index).copied().unwrap_or(0) {
            0 if !log.in_doubt.contains(&index) && !log.not_sent.contains(&index) => {
                judgement.silently_lost.push(index);
            }
            0 => {}
            count => {
                judgement.in_portal += 1;
                if log.in_doubt.contains(&index) {
                    judgement.in_doubt_stored += 1;
                }
                if count > 1 {
                    judgement.duplicated.push(index);
                }
            }
        }
    }
    judgement.stored_unaccepted = copies
        .keys()
        .filter(|index| !log.accepted.contains(index))
        .copied()
        .collect();
    judgement.stored_unaccepted.sort_unstable();
    judgement
}

/// `KILLS` distinct acceptances, in order, spread over the middle of the scenario.
fn kill_points(rng: &mut StdRng) -> Vec<u64> {
    let mut points = BTreeSet::new();
    while points.len() < KILLS {
        points.insert(rng.random_range(MESSAGES / 20..MESSAGES * 19 / 20));
    }
    points.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_messages_survive_five_kills_of_the_connector() {
    let Some(url) = redis_url() else { return };
    let seed = seed();
    println!("kill test seed: {seed} (replay with IMCONNECTOR_KILL_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let portal = Emulator::builder()
        .lines(1)
        .faults(Faults::new(seed).latency(PORTAL_LATENCY, 1.0).rest_only())
        .start()
        .await
        .expect("emulator starts");
    let app = portal.app();
    let prefix = unique_prefix("kill-outbox");
    let parent = backend(&url, &prefix, Duration::from_secs(5)).await;
    // The installation stored the portal's first pair.
    parent
        .token_store(&app.member_id)
        .expect("valid member_id")
        .replace(&portal_tokens(&portal))
        .await
        .expect("stored");
    let mut plan = Plan {
        scenario: Scenario::OutboxRedis,
        portal: PortalAccess {
            rest_url: portal.rest_url(),
            oauth_url: portal.oauth_url(),
            client_id: app.client_id.clone(),
            client_secret: imconnector_emulator::ExposeSecret::expose_secret(&app.client_secret)
                .to_owned(),
            member_id: app.member_id.clone(),
        },
        redis: RedisAccess {
            url: url.clone(),
            key_prefix: prefix.clone(),
        },
        messages: MESSAGES,
        chats: CHATS,
        burst: 4,
        burst_every_ms: 10,
        first: 0,
        inbound: None,
    };
    let kill_at = kill_points(&mut rng);
    let started = Instant::now();
    let mut log = Log::default();
    for run in 0..=KILLS {
        // Each process meets an expired access token: it refreshes, and the next process must
        // find the rotated pair in the token store.
        portal.expire_tokens();
        plan.first = log.next_to_submit();
        run_child(&plan, kill_at.get(run).copied(), &mut rng, &mut log).await;
    }
    let duration = started.elapsed();
    let counters = portal.counters();
    let judgement = judge(&portal, &log);
    clean(&parent, &prefix).await;
    println!(
        "FIGURE kill/outbox seed {seed}: {} kills (after acceptances {kill_at:?}), {MESSAGES} \
         messages across {CHATS} chats, {} accepted, {} in the portal, {} reported in doubt \
         ({} of them in the portal; per run {:?}), {} not sent, {} silently lost, {} \
         duplicated, {} chats out of order; {} refreshes, {} refused; {:.1} s",
        log.kills,
        log.accepted.len(),
        judgement.in_portal,
        log.in_doubt.len(),
        judgement.in_doubt_stored,
        log.in_doubt_per_run,
        log.not_sent.len(),
        judgement.silently_lost.len(),
        judgement.duplicated.len(),
        judgement.out_of_order.len(),
        counters.refreshes,
        counters.refresh_rejections,
        duration.as_secs_f64(),
    );
    portal.shutdown().await;
    assert_eq!(log.kills, KILLS);
    assert!(log.done, "the last run finished");
    assert_eq!(
        log.accepted.len() as u64,
        MESSAGES,
        "every message was accepted in the end"
    );
    assert!(
        judgement.silently_lost.is_empty(),
        "silently lost (seed {seed}): {:?}",
        judgement.silently_lost
    );
    assert!(
        judgement.duplicated.is_empty(),
        "in the portal twice (seed {seed}): {:?}",
        judgement.duplicated
    );
    assert!(
        judgement.out_of_order.is_empty(),
        "out of order (seed {seed}): {:?}",
        judgement.out_of_order
    );
    assert!(
        judgement.stored_unaccepted.is_empty(),
        "in the portal but never accepted: {:?}",
        judgement.stored_unaccepted
    );
    assert!(log.not_sent.is_empty(), "not sent: {:?}", log.not_sent);
    for (run, in_doubt) in log.in_doubt_per_run.iter().enumerate() {
        assert!(
            *in_doubt <= MOST_IN_FLIGHT,
            "run {run} reported {in_doubt} in doubt, more than the {MOST_IN_FLIGHT} one kill can leave"
        );
    }
    assert_eq!(
        counters.refresh_rejections, 0,
        "no refresh with a dead token"
    );
    assert!(
        counters.refreshes > KILLS as u64,
        "every process refreshed: {}",
        counters.refreshes
    );
}
