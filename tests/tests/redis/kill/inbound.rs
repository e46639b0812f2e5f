//! What every inbound kill scenario (issue 21) shares: the child connector's life
//! ([`ChildConnector`]), the operators who reply ([`Operators`]), the portal's side of each
//! reply ([`Intake`]) and the judgement of the handler's effects against it ([`Verdict`]).
//! A scenario (online inbox, replicas, offline events) only says how replies reach the child
//! and when it dies.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Stdio;
use std::time::Duration;

use imconnector::prelude::*;
use imconnector_emulator::{
    DeliveryOutcome, Direction, Emulator, EmulatorHandle, ExposeSecret, Faults,
};
use imconnector_redis::RedisBackend;
use imconnector_tests::kill::{
    chat_id, customer_message, line, InboundPlan, Plan, PortalAccess, RedisAccess, Report,
    Scenario, CONNECTOR, LINE, PLAN_VAR,
};
use imconnector_tests::kill_inbound::{EffectKeys, Effects};
use rand::{rngs::StdRng, Rng};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use crate::support::{backend, portal_tokens, unique_prefix, PATIENCE};

/// The wire name of the event every reply fires.
const MESSAGE_ADD: &str = "ONIMCONNECTORMESSAGEADD";

/// A loopback port free now, for a child to listen on across its restarts.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// `count` distinct reply indices, in order, between 5 % and 90 % of `replies`: the moments
/// (with a random delay after each) the child dies.
pub fn kill_points(rng: &mut StdRng, count: usize, replies: u64) -> Vec<u64> {
    let mut points = BTreeSet::new();
    while points.len() < count {
        points.insert(rng.random_range(replies / 20..replies * 9 / 10));
    }
    points.into_iter().collect()
}

/// A running `kill-connector` child in an inbound scenario.
pub struct ChildConnector {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: Option<ChildStdin>,
}

impl ChildConnector {
    /// Starts the child and waits until it listens (it printed `ready`).
    pub async fn start(plan: &Plan) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kill-connector"))
            .env(PLAN_VAR, plan.to_env())
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("kill-connector starts");
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut connector = Self {
            child,
            lines,
            stdin,
        };
        connector.wait_for(&Report::Ready).await;
        connector
    }

    /// Reads the child's reports until `wanted`; panics if it ends first.
    async fn wait_for(&mut self, wanted: &Report) {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
                .await
                .expect("the child reports in time")
                .expect("the child's stdout");
            let Some(line) = line else {
                let status = self.child.wait().await.expect("its status");
                panic!("the child ended ({status}) before it reported {wanted}");
            };
            if Report::parse(&line).as_ref() == Some(wanted) {
                return;
            }
        }
    }

    /// SIGKILL: no destructor, no flush, no goodbye.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the child ends")
            .expect("its status");
        assert!(!status.success(), "the child was killed ({status})");
    }

    /// Closes the child's stdin, its signal to stop serving and drain; waits for `done` and a
    /// successful exit.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        self.wait_for(&Report::Done).await;
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the child ends")
            .expect("its status");
        assert!(status.success(), "the child drained and stopped: {status}");
    }
}

/// One operator reply: its chat and the Bitrix message id the portal gave it.
#[derive(Debug, Clone)]
pub struct SentReply {
    pub chat: String,
    pub message_id: u64,
}

/// The operators of the portal's line, each chat opened by a customer's first message.
#[derive(Clone)]
pub struct Operators {
    portal: EmulatorHandle,
    chats: Vec<String>,
}

impl Operators {
    /// Opens `chats` chats (one customer message each, sent by a client of the test's own)
    /// once the connector is provisioned on the line.
    pub async fn open_chats(portal: &Emulator, chats: u64) -> Self {
        let handle = portal.handle();
        let client = imconnector::emulator::client_builder(&handle)
            .build()
            .expect("a client");
        let connector = ConnectorId::new(CONNECTOR).expect("valid");
        let messages: Vec<_> = (0..chats)
            .map(|chat| customer_message(chat, chats))
            .collect();
        for pack in messages.chunks(50) {
            client
                .call(&SendMessages::new(connector.clone(), line(), pack.to_vec()))
                .await
                .expect("the customers' first messages are stored");
        }
        Self {
            portal: handle,
            chats: (0..chats).map(chat_id).collect(),
        }
    }

    /// The chats' external ids.
    pub fn chats(&self) -> &[String] {
        &self.chats
    }

    /// Replies `replies` times, the chats taking turns, one reply every `pace`; publishes how
    /// many were sent on `progress`. A chat's next reply waits until the portal's POST of its
    /// previous one finished (delivered or failed), so the portal's order per chat is never in
    /// doubt: one reply per chat in flight, as an operator answers after seeing theirs sent.
    pub async fn reply(
        self,
        replies: u64,
        pace: Duration,
        progress: watch::Sender<u64>,
    ) -> Vec<SentReply> {
        let posted_before = self.portal.event_deliveries().len() as u64;
        let mut sent = Vec::new();
        let mut ticker = tokio::time::interval(pace);
        for index in 0..replies {
            let chat = &self.chats[(index % self.chats.len() as u64) as usize];
            if index > 0 && index.is_multiple_of(self.chats.len() as u64) {
                // The previous round's POSTs finished: one reply per chat in flight.
                self.portal
                    .wait_for_event_deliveries(posted_before + index, PATIENCE)
                    .await
                    .expect("the portal's POSTs finish");
            }
            ticker.tick().await;
            let reply = self
                .portal
                .operator_reply(LINE, chat, &format!("operator reply {index}"))
                .expect("the operator replies");
            sent.push(SentReply {
                chat: chat.clone(),
                message_id: reply.message_id,
            });
            progress.send_replace(index + 1);
        }
        self.portal
            .wait_for_event_deliveries(posted_before + replies, PATIENCE)
            .await
            .expect("the portal's POSTs finish");
        sent
    }
}

/// What the portal's POSTs of the replies came to.
#[derive(Debug, Default)]
pub struct Intake {
    /// Replies the connector answered 2xx for: from then on the SDK answers for them.
    pub accepted: BTreeSet<u64>,
    /// Replies whose POST failed (refused while the connector was down, or cut by a kill):
    /// the portal shows them undelivered and never sends them again.
    pub refused: BTreeSet<u64>,
}

impl Intake {
    /// Reads the portal's event log.
    pub fn of(portal: &Emulator) -> Self {
        let mut intake = Self::default();
        for delivery in portal.event_deliveries() {
            if delivery.event != MESSAGE_ADD {
                continue;
            }
            let form = delivery.form();
            let message_id = form["data"]["MESSAGES"][0]["im"]["message_id"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok())
                .expect("a reply's POST names its message");
            match delivery.outcome {
                DeliveryOutcome::Delivered { .. } => {
                    intake.accepted.insert(message_id);
                }
                DeliveryOutcome::Failed { .. } => {
                    intake.refused.insert(message_id);
                }
                _ => panic!("every POST finished: {delivery:?}"),
            }
        }
        intake.refused.retain(|id| !intake.accepted.contains(id));
        intake
    }
}

/// The replies whose delivery the connector confirmed (`imconnector.send.status.delivery`
/// named them with the handler's external id).
fn confirmed(portal: &Emulator) -> BTreeSet<u64> {
    portal
        .all_messages()
        .into_iter()
        .filter(|message| {
            message.direction == Direction::Outgoing
                && message.delivered
                && message.external_ids == [format!("sent-{}", message.id)]
        })
        .map(|message| message.id)
        .collect()
}

/// Waits until every accepted reply (and every one of `also`) has its effect and its
/// confirmation, or [`PATIENCE`] passed: the verdict then names what is missing.
pub async fn wait_until_settled(
    portal: &Emulator,
    redis: &mut redis::aio::ConnectionManager,
    keys: &EffectKeys,
    operators: &Operators,
    intake: &Intake,
    also: &BTreeSet<u64>,
) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < PATIENCE {
        let effects = Effects::read(redis, keys, operators.chats().iter().cloned())
            .await
            .expect("Redis answers");
        let applied: BTreeSet<u64> = effects.chats.values().flatten().copied().collect();
        let confirmed = confirmed(portal);
        if intake
            .accepted
            .iter()
            .chain(also)
            .all(|id| applied.contains(id) && confirmed.contains(id))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The handler's effects judged against the portal.
#[derive(Debug, Default)]
pub struct Verdict {
    pub sent: usize,
    pub accepted: usize,
    /// Refused by the child (down or killed mid-POST): the portal shows them undelivered.
    pub refused: usize,
    /// Accepted without an effect: lost by the SDK.
    pub lost: Vec<u64>,
    /// Effects that happened more than once.
    pub duplicated: Vec<u64>,
    /// Chats whose effects are not in the portal's order.
    pub out_of_order: Vec<String>,
    /// Accepted, with no delivery confirmation in the portal.
    pub unconfirmed: Vec<u64>,
    /// Effects of replies never sent (a wrong key or message id).
    pub unknown: Vec<u64>,
    /// Replies whose POST failed although the child had kept them (appended, then killed
    /// before the 200 left): handled and confirmed all the same.
    pub handled_refused: usize,
    /// Handler runs in all, and re-runs (beyond the first per reply).
    pub runs: u64,
    pub reruns: u64,
}

impl Verdict {
    /// Judges `effects` against the replies `sent` and what the portal made of them.
    pub fn judge(
        portal: &Emulator,
        sent: &[SentReply],
        intake: &Intake,
        effects: &Effects,
    ) -> Self {
        let position: HashMap<u64, usize> = sent
            .iter()
            .enumerate()
            .map(|(position, reply)| (reply.message_id, position))
            .collect();
        let chat_of: HashMap<u64, &str> = sent
            .iter()
            .map(|reply| (reply.message_id, reply.chat.as_str()))
            .collect();
        let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
        let mut verdict = Self {
            sent: sent.len(),
            accepted: intake.accepted.len(),
            refused: intake.refused.len(),
            runs: effects.runs.values().sum(),
            reruns: effects.reruns(),
            ..Self::default()
        };
        for (chat, ids) in &effects.chats {
            let mut last = None;
            for id in ids {
                *copies.entry(*id).or_default() += 1;
                let Some(&at) = position.get(id) else {
                    verdict.unknown.push(*id);
                    continue;
                };
                if chat_of.get(id) != Some(&chat.as_str()) || last.is_some_and(|last| last >= at) {
                    verdict.out_of_order.push(format!("{chat}: {ids:?}"));
                    break;
                }
                last = Some(at);
            }
        }
        verdict.duplicated = copies
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(id, _)| *id)
            .collect();
        let confirmed = confirmed(portal);
        for id in &intake.accepted {
            if !copies.contains_key(id) {
                verdict.lost.push(*id);
            }
            if !confirmed.contains(id) {
                verdict.unconfirmed.push(*id);
            }
        }
        verdict.handled_refused = intake
            .refused
            .iter()
            .filter(|id| copies.contains_key(id))
            .count();
        verdict
    }

    /// The scenario's figures, one line (`FIGURE kill/<scenario> ...`).
    pub fn print(&self, scenario: &str, seed: u64, kills: usize, chats: usize, extra: &str) {
        println!(
            "FIGURE kill/{scenario} seed {seed}: {kills} kill(s), {} replies across {chats} chats; \
             {} accepted (answered 200), {} lost of the accepted, {} effects twice, {} chats out \
             of order, {} accepted unconfirmed; {} handler runs, {} re-runs; {} refused by the \
             connector while it was down or dying ({} of them kept and handled anyway){extra}",
            self.sent,
            self.accepted,
            self.lost.len(),
            self.duplicated.len(),
            self.out_of_order.len(),
            self.unconfirmed.len(),
            self.runs,
            self.reruns,
            self.refused,
            self.handled_refused,
        );
        println!(
            "  note: a refused online event is lost at the portal, which shows it undelivered and \
             never sends it again; that is outside the SDK's reach in online mode (offline events \
             exist for it). The claim covers the accepted ones."
        );
    }

    /// Every chat's effects in the portal's order.
    pub fn assert_in_order(&self, seed: u64) {
        assert!(
            self.out_of_order.is_empty(),
            "out of order (seed {seed}): {:?}",
            self.out_of_order
        );
    }

    /// No accepted reply lost, none applied twice, every one confirmed.
    pub fn assert_nothing_lost(&self, seed: u64) {
        assert!(
            self.lost.is_empty(),
            "accepted, never handled (seed {seed}): {:?}",
            self.lost
        );
        assert!(
            self.duplicated.is_empty(),
            "effect twice (seed {seed}): {:?}",
            self.duplicated
        );
        assert!(
            self.unknown.is_empty(),
            "effects of no reply (seed {seed}): {:?}",
            self.unknown
        );
        assert!(
            self.unconfirmed.is_empty(),
            "accepted, not confirmed delivered (seed {seed}): {:?}",
            self.unconfirmed
        );
        assert!(self.accepted > 0, "the connector accepted replies");
    }
}

/// A portal (the emulator, one line, every REST call `rest_latency` slow so confirmations
/// are in flight when a kill comes) installed for a child: its first token pair stored in
/// Redis under a fresh prefix, as the installation left it. Returns the portal, the
/// parent's backend, and the plan of a child receiving with `inbound`.
pub async fn installed_portal(
    redis_url: &str,
    test: &str,
    seed: u64,
    rest_latency: Duration,
    inbound: InboundPlan,
) -> (Emulator, RedisBackend, Plan) {
    let portal = Emulator::builder()
        .lines(1)
        .faults(Faults::new(seed).latency(rest_latency, 1.0).rest_only())
        .start()
        .await
        .expect("emulator starts");
    let app = portal.app();
    let prefix = unique_prefix(test);
    let parent = backend(redis_url, &prefix, Duration::from_secs(5)).await;
    parent
        .token_store(&app.member_id)
        .expect("valid member_id")
        .replace(&portal_tokens(&portal))
        .await
        .expect("stored");
    let plan = Plan {
        scenario: Scenario::InboxRedis,
        portal: PortalAccess {
            rest_url: portal.rest_url(),
            oauth_url: portal.oauth_url(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.expose_secret().to_owned(),
            member_id: app.member_id.clone(),
        },
        redis: RedisAccess {
            url: redis_url.to_owned(),
            key_prefix: prefix,
        },
        messages: 0,
        chats: 0,
        burst: 1,
        burst_every_ms: 0,
        first: 0,
        inbound: Some(InboundPlan {
            application_token: app.application_token.expose_secret().to_owned(),
            ..inbound
        }),
    };
    (portal, parent, plan)
}

/// A receiver's part of a plan: listening on a free port as `consumer`.
pub fn receiver(consumer: &str, bind_events: bool, min_idle: Duration) -> InboundPlan {
    InboundPlan {
        port: free_port(),
        // Filled in by `installed_portal`.
        application_token: String::new(),
        consumer: consumer.to_owned(),
        bind_events,
        min_idle_ms: u64::try_from(min_idle.as_millis()).expect("small"),
    }
}
