//! What the inbound kill scenarios (issue 21) share between the child connector and the test:
//! the receiver's part of the plan, and the handler's effect in Redis.
//!
//! The child's handler applies one effect per operator reply, keyed by the event's
//! [`DedupKey`](imconnector::inbound::DedupKey), in one script: it counts the run, and only if
//! the key is new it marks it and appends the reply's Bitrix message id to its chat's list. A
//! re-run after a kill (delivery to the handler is at least once) is counted and changes
//! nothing else; the test reads it all back with [`Effects::read`].

use std::collections::{BTreeMap, HashMap};

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// The receiver of one child: where it listens and how it reads the inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundPlan {
    /// The loopback port it serves events on, the same across restarts (the portal's binding
    /// keeps pointing there).
    pub port: u16,
    /// The application token the portal sends in `auth[application_token]` (the app stored
    /// it at installation).
    pub application_token: String,
    /// The inbox consumer's name: stable across restarts of one replica.
    pub consumer: String,
    /// Whether this child binds the connector's events to its URL (the replica that receives
    /// the portal's POSTs); a replica that only consumes the inbox does not.
    pub bind_events: bool,
    /// After how long without a touch another replica takes this one's inbox entries.
    pub min_idle_ms: u64,
    /// How long the handler takes to "send" each reply before its effect (a messenger's
    /// latency), so a kill finds handlers in flight.
    #[serde(default)]
    pub handler_delay_ms: u64,
}

/// The Redis keys of the effects, under the run's key prefix.
#[derive(Debug, Clone)]
pub struct EffectKeys {
    prefix: String,
}

impl EffectKeys {
    /// The keys under `prefix` (the plan's key prefix).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}:effects"),
        }
    }

    /// The mark of the effect of the event with this deduplication key.
    pub fn done(&self, dedup_key: &str) -> String {
        format!("{}:done:{dedup_key}", self.prefix)
    }

    /// The list of the Bitrix message ids whose effect happened in external chat `chat`, in
    /// the order they happened.
    pub fn chat(&self, chat: &str) -> String {
        format!("{}:chat:{chat}", self.prefix)
    }

    /// The hash of handler runs per Bitrix message id.
    pub fn runs(&self) -> String {
        format!("{}:runs", self.prefix)
    }

    /// The hash of the replica that applied each effect, per Bitrix message id.
    pub fn applied_by(&self) -> String {
        format!("{}:applied-by", self.prefix)
    }

    /// The hash of the replica that ran the handler last, per Bitrix message id.
    pub fn last_run_by(&self) -> String {
        format!("{}:last-run-by", self.prefix)
    }
}

/// The effect, atomically: KEYS = [done mark, chat list, runs hash, applied-by hash,
/// last-run-by hash], ARGV = [message id, replica]. Answers 1 when the effect happened now, 0
/// for a re-run.
pub const EFFECT_SCRIPT: &str = r"
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
  return 1
end
return 0
";

/// Applies the effect of the reply `message_id` in `chat` (event `dedup_key`) for `replica`;
/// `true` when it happened now, `false` for a re-run.
///
/// # Errors
/// When Redis fails.
pub async fn apply_effect(
    connection: &mut ConnectionManager,
    keys: &EffectKeys,
    dedup_key: &str,
    chat: &str,
    message_id: u64,
    replica: &str,
) -> redis::RedisResult<bool> {
    let applied: i64 = redis::Script::new(EFFECT_SCRIPT)
        .key(keys.done(dedup_key))
        .key(keys.chat(chat))
        .key(keys.runs())
        .key(keys.applied_by())
        .key(keys.last_run_by())
        .arg(message_id)
        .arg(replica)
        .invoke_async(connection)
        .await?;
    Ok(applied == 1)
}

/// Every effect recorded, as the test reads it back.
#[derive(Debug, Default, Clone)]
pub struct Effects {
    /// Per external chat, the message ids whose effect happened, in that order.
    pub chats: BTreeMap<String, Vec<u64>>,
    /// Handler runs per message id.
    pub runs: HashMap<u64, u64>,
    /// The replica that applied each message's effect.
    pub applied_by: HashMap<u64, String>,
    /// The replica that ran the handler of each message last.
    pub last_run_by: HashMap<u64, String>,
}

impl Effects {
    /// Reads the effects of `chats` (external chat ids).
    ///
    /// # Errors
    /// When Redis fails or holds something else than the handler writes.
    pub async fn read(
        connection: &mut ConnectionManager,
        keys: &EffectKeys,
        chats: impl IntoIterator<Item = String>,
    ) -> redis::RedisResult<Self> {
        let mut effects = Self::default();
        for chat in chats {
            let ids: Vec<u64> = redis::cmd("LRANGE")
                .arg(keys.chat(&chat))
                .arg(0)
                .arg(-1)
                .query_async(connection)
                .await?;
            if !ids.is_empty() {
                effects.chats.insert(chat, ids);
            }
        }
        effects.runs = redis::cmd("HGETALL")
            .arg(keys.runs())
            .query_async(connection)
            .await?;
        effects.applied_by = redis::cmd("HGETALL")
            .arg(keys.applied_by())
            .query_async(connection)
            .await?;
        effects.last_run_by = redis::cmd("HGETALL")
            .arg(keys.last_run_by())
            .query_async(connection)
            .await?;
        Ok(effects)
    }

    /// How many effects happened, over all chats.
    pub fn applied(&self) -> usize {
        self.chats.values().map(Vec::len).sum()
    }

    /// Handler runs beyond the first of each message: the re-runs.
    pub fn reruns(&self) -> u64 {
        self.runs.values().map(|runs| runs.saturating_sub(1)).sum()
    }
}
