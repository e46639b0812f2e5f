//! The connector the kill tests run as a child process (`kill-connector`, `bin/kill_connector/`)
//! and SIGKILL at random moments: the plan it reads from its environment, the customer messages
//! of each scenario, and the lines it reports on stdout (one per event, flushed at once, so a
//! line the parent read happened before the kill). The inbound scenarios' part of the plan and
//! the handler's effect are in [`kill_inbound`](crate::kill_inbound).

use std::fmt;
use std::io::Write;

use imconnector::ids::LineId;
use imconnector::types::{MessageBody, MessageChat, MessageIn, MessageUser};
use serde::{Deserialize, Serialize};

pub use crate::kill_inbound::InboundPlan;

/// The environment variable that carries the child's [`Plan`] (JSON).
pub const PLAN_VAR: &str = "IMCONNECTOR_KILL_PLAN";

/// The connector id every kill scenario provisions.
pub const CONNECTOR: &str = "kill_connector";

/// The open line the customers write to.
pub const LINE: i64 = 1;

/// The sender's packs are small (2 messages a call, 2 calls a request, 4 requests in flight),
/// so many requests are in flight when the process dies.
pub const MESSAGES_PER_CALL: usize = 2;
/// See [`MESSAGES_PER_CALL`].
pub const CALLS_PER_REQUEST: usize = 2;
/// See [`MESSAGES_PER_CALL`].
pub const REQUESTS_IN_FLIGHT: usize = 4;
/// The most messages in flight at once: what one kill may leave in doubt.
pub const MOST_IN_FLIGHT: usize = MESSAGES_PER_CALL * CALLS_PER_REQUEST * REQUESTS_IN_FLIGHT;

/// What the child needs to reach the portal (the emulator of the parent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortalAccess {
    /// The portal's REST base.
    pub rest_url: String,
    /// The OAuth token endpoint.
    pub oauth_url: String,
    /// The application's `client_id`.
    pub client_id: String,
    /// The application's `client_secret` (a test secret of the emulator).
    pub client_secret: String,
    /// The portal's `member_id`: its tokens are stored under it.
    pub member_id: String,
}

/// Where the child keeps what must survive its death.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedisAccess {
    /// `redis://...`
    pub url: String,
    /// The key prefix of this test run (tokens, refresh lock, outbox).
    pub key_prefix: String,
}

/// What one run of the child does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// The scenario.
    pub scenario: Scenario,
    /// The portal.
    pub portal: PortalAccess,
    /// The Redis of the token store (and of the durable outbox).
    pub redis: RedisAccess,
    /// How many customer messages the whole scenario sends.
    pub messages: u64,
    /// Across how many chats.
    pub chats: u64,
    /// The customers write this many messages at a time ...
    pub burst: u64,
    /// ... every this many milliseconds (a messenger's stream, not one flood).
    pub burst_every_ms: u64,
    /// The first message this run submits: the parent's customers resubmit every message
    /// whose acceptance they did not see (the messenger's own redelivery).
    pub first: u64,
    /// What the inbound scenarios' receiver needs (`None` in the outbox scenarios).
    #[serde(default)]
    pub inbound: Option<InboundPlan>,
}

impl Plan {
    /// The plan of this process, from [`PLAN_VAR`].
    ///
    /// # Errors
    /// When the variable is missing or is not a plan.
    pub fn from_env() -> Result<Self, String> {
        let text = std::env::var(PLAN_VAR).map_err(|_| format!("{PLAN_VAR} is not set"))?;
        serde_json::from_str(&text).map_err(|error| format!("{PLAN_VAR}: {error}"))
    }

    /// The plan as the value of [`PLAN_VAR`].
    pub fn to_env(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The scenarios the child knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Issue 22: customers' messages through a [`Sender`](imconnector::sender::Sender) whose
    /// queue is the in-memory default (a crash loses what it holds).
    OutboxInMemory,
    /// Issue 22: the same through the Redis outbox: accepted means kept in Redis, and a start
    /// reports what the killed process had in flight (in doubt) instead of resending it.
    OutboxRedis,
    /// Issue 21: operators' replies POSTed to the connector's receiver, kept in the Redis
    /// inbox before the 200 and handled by an idempotent, keyed effect
    /// ([`kill_inbound`](crate::kill_inbound)).
    InboxRedis,
    /// Issue 21's control: the same receiver with the default in-memory inbox (a kill loses
    /// what it holds; the test shows how much, and fails).
    InboxInMemory,
    /// Issue 21, offline: operators' replies kept in the portal's offline event queue, read
    /// by an [`OfflinePoller`](imconnector::offline::OfflinePoller) whose `process_id` is in
    /// Redis, handled by the same keyed effect; no listener at all.
    OfflineRedis,
}

/// Customer message `index` of a scenario with `chats` chats: its external id is
/// [`message_id`], its chat [`chat_id`], and chats take turns.
pub fn customer_message(index: u64, chats: u64) -> MessageIn {
    let chat = chat_id(index % chats.max(1));
    MessageIn::new(
        MessageUser::new(format!("kill-customer-{}", index % chats.max(1))),
        MessageBody::new()
            .with_id(message_id(index))
            .with_text(format!("customer message {index}")),
        MessageChat::new(chat),
    )
}

/// The line of every customer message.
pub fn line() -> LineId {
    LineId::new(LINE).unwrap_or_else(|_| unreachable!("1 is a valid line id"))
}

/// The external id of message `index`: `kill-<index>`.
pub fn message_id(index: u64) -> String {
    format!("kill-{index}")
}

/// The message index of external id `kill-<index>`.
pub fn message_index(id: &str) -> Option<u64> {
    id.strip_prefix("kill-")?.parse().ok()
}

/// The external id of chat `chat`.
pub fn chat_id(chat: u64) -> String {
    format!("kill-chat-{chat}")
}

/// The prefix of every report line, so the parent ignores anything else the child prints.
const REPORT_PREFIX: &str = "KILL-REPORT";

/// One line the child reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Provisioned, and about to take messages.
    Ready,
    /// Message `index` was accepted: from now on the connector answers for it.
    Accepted(u64),
    /// The portal stored message `index`.
    Stored(u64),
    /// Message `index` may or may not be in the portal: the app was told so.
    InDoubt(u64),
    /// Message `index` is certainly not in the portal (rejected, or failed before sending).
    NotSent(u64),
    /// Every message of this run has an outcome.
    Done,
}

impl Report {
    /// Prints the report and flushes it: once this returns, the parent can read it.
    pub fn print(&self) {
        let mut out = std::io::stdout().lock();
        // A parent that stopped reading has killed us or is about to: nothing to do.
        let _ = writeln!(out, "{REPORT_PREFIX} {self}").and_then(|()| out.flush());
    }

    /// Reads a line the child printed; `None` for anything else.
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.trim().strip_prefix(REPORT_PREFIX)?.trim();
        let (word, index) = rest.split_once(' ').unwrap_or((rest, ""));
        let index = || index.trim().parse::<u64>().ok();
        Some(match word {
            "ready" => Self::Ready,
            "done" => Self::Done,
            "accepted" => Self::Accepted(index()?),
            "stored" => Self::Stored(index()?),
            "in-doubt" => Self::InDoubt(index()?),
            "not-sent" => Self::NotSent(index()?),
            _ => return None,
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready => formatter.write_str("ready"),
            Self::Done => formatter.write_str("done"),
            Self::Accepted(index) => write!(formatter, "accepted {index}"),
            Self::Stored(index) => write!(formatter, "stored {index}"),
            Self::InDoubt(index) => write!(formatter, "in-doubt {index}"),
            Self::NotSent(index) => write!(formatter, "not-sent {index}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Report;

    #[test]
    fn every_report_reads_back_as_printed() {
        for report in [
            Report::Ready,
            Report::Done,
            Report::Accepted(7),
            Report::Stored(0),
            Report::InDoubt(999),
            Report::NotSent(3),
        ] {
            let line = format!("KILL-REPORT {report}\n");
            assert_eq!(Report::parse(&line), Some(report));
        }
        assert_eq!(Report::parse("accepted 7"), None);
        assert_eq!(Report::parse("KILL-REPORT accepted x"), None);
    }
}
