//! [`RedisInbox`]: the durable inbox of online events, a Redis Stream with a consumer group.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use imconnector_transport::inbox::{
    Appended, AppendedAndRead, InboxEntry, InboxError, InboxStore, DEFAULT_DEDUP_TTL,
};
use imconnector_transport::MemberId;
use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use tokio::sync::Notify;

use crate::{backend::RedisBackend, error::RedisBackendError, scripts::Scripts};

/// The consumer group every replica reads in.
const GROUP: &str = "imconnector";

/// At most this many ids go to one acknowledging script call (Lua's `unpack` takes a few
/// thousand at most).
const ACKED_PER_CALL: usize = 1_000;

/// How many failed entries the failed stream keeps (about; the oldest go first).
const FAILED_KEPT: usize = 10_000;

/// How often a [`read`](InboxStore::read) with nothing new asks Redis again (events appended by
/// this process wake it at once).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The durable inbox in Redis: verified events in a stream (`<prefix>:{inbox}:stream`), read by
/// the replicas in one consumer group, each entry deleted once acknowledged; a key mark per event
/// (`<prefix>:{inbox}:seen:<key>`, expiring after the deduplication time to live) so the same
/// event is appended once; entries that failed for good go to `<prefix>:{inbox}:failed` with
/// their reason (the newest 10,000 are kept).
///
/// Appending is one script (mark the key, add the entry; [`append_and_read`](InboxStore::append_and_read),
/// which the receiver uses, also reads the oldest unread entry for the appending consumer with
/// `XREADGROUP`, which is the new one unless older ones were never read) and so is
/// acknowledging (`XACK` and `XDEL` of all the entries given to
/// [`ack_all`](InboxStore::ack_all)); reads are
/// `XREADGROUP`, the takeover of a dead replica's entries `XAUTOCLAIM`, and a live replica's
/// [`touch`](InboxStore::touch) resets its entries' idle time with `XCLAIM` only while they are
/// still its own. Blocking reads would hold the shared multiplexed connection, so a read polls
/// every [`poll_interval`](Self::poll_interval) instead, and is woken at once by an append of
/// this process.
///
/// Redis must persist (AOF with `appendfsync everysec` or `always`) for the inbox to survive
/// a Redis restart; it survives the connector's crashes either way.
#[derive(Clone)]
pub struct RedisInbox {
    connection: ConnectionManager,
    scripts: Arc<Scripts>,
    stream: Arc<str>,
    failed: Arc<str>,
    seen_prefix: Arc<str>,
    dedup_ttl: Duration,
    poll_interval: Duration,
    appended: Arc<Notify>,
}

impl std::fmt::Debug for RedisInbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RedisInbox")
            .field("stream", &self.stream)
            .field("dedup_ttl", &self.dedup_ttl)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// The durable inbox under this backend's prefix; creates its consumer group if needed.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn inbox(&self) -> Result<RedisInbox, RedisBackendError> {
        let base = format!("{}:{{inbox}}", self.key_prefix());
        let inbox = RedisInbox {
            connection: self.connection(),
            scripts: Arc::new(Scripts::new()),
            stream: format!("{base}:stream").into(),
            failed: format!("{base}:failed").into(),
            seen_prefix: format!("{base}:seen:").into(),
            dedup_ttl: DEFAULT_DEDUP_TTL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            appended: Arc::new(Notify::new()),
        };
        // From the stream's first entry, so entries appended before the group existed are read.
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&*inbox.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut inbox.connection.clone())
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(RedisBackendError::Redis {
                action: "create the inbox's consumer group",
                source: error,
            }),
            _ => Ok(inbox),
        }
    }
}

impl RedisInbox {
    /// How long an event's key is remembered (default [`DEFAULT_DEDUP_TTL`], 24 h).
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidSetting`] below one millisecond.
    pub fn dedup_ttl(mut self, ttl: Duration) -> Result<Self, RedisBackendError> {
        if ttl < Duration::from_millis(1) {
            return Err(RedisBackendError::InvalidSetting {
                name: "dedup_ttl",
                reason: "must be at least 1 ms".into(),
            });
        }
        self.dedup_ttl = ttl;
        Ok(self)
    }

    /// How often a read with nothing new asks Redis again (default
    /// [`DEFAULT_POLL_INTERVAL`]).
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidSetting`] below one millisecond.
    pub fn poll_interval(mut self, interval: Duration) -> Result<Self, RedisBackendError> {
        if interval < Duration::from_millis(1) {
            return Err(RedisBackendError::InvalidSetting {
                name: "poll_interval",
                reason: "must be at least 1 ms".into(),
            });
        }
        self.poll_interval = interval;
        Ok(self)
    }

    /// The stream's key.
    pub fn stream_key(&self) -> &str {
        &self.stream
    }

    /// The failed entries' stream key.
    pub fn failed_key(&self) -> &str {
        &self.failed
    }

    /// How many entries the stream holds (appended, not yet acknowledged): the backlog.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn backlog(&self) -> Result<usize, RedisBackendError> {
        redis::cmd("XLEN")
            .arg(&*self.stream)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(RedisBackendError::redis("count the inbox's entries"))
    }

    /// An appending script's call with the keys and arguments both appending scripts take
    /// first (the key's mark, the stream; the time to live, the key, member_id, the payload).
    fn appending<'a>(
        &self,
        script: &'a redis::Script,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.key([&*self.seen_prefix, key].concat());
        invocation
            .key(&*self.stream)
            .arg(millis(self.dedup_ttl))
            .arg(key)
            .arg(member_id.as_str())
            .arg(payload);
        invocation
    }

    async fn read_group(
        &self,
        consumer: &str,
        from: &str,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(max)
            .arg("STREAMS")
            .arg(&*self.stream)
            .arg(from)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed("read the inbox"))?;
        Ok(reply
            .into_iter()
            .flat_map(|reply| reply.keys)
            .flat_map(|key| key.ids)
            .filter_map(entry)
            .collect())
    }
}

fn failed(action: &'static str) -> impl FnOnce(redis::RedisError) -> InboxError {
    move |error| InboxError::new(format!("redis failed to {action}"), Some(Box::new(error)))
}

/// The entry of a stream item; `None` for an entry deleted meanwhile (no fields). The fields
/// are taken out of the reply, not copied: the payload is the event's whole body.
fn entry(item: StreamId) -> Option<InboxEntry> {
    entry_of(item.id, item.map)
}

/// [`entry`] of an id and its fields.
fn entry_of(id: String, mut map: HashMap<String, redis::Value>) -> Option<InboxEntry> {
    let mut field = |name: &str| {
        map.remove(name)
            .and_then(|value| redis::from_redis_value::<String>(value).ok())
    };
    let key = field("key")?;
    let member = field("member")?;
    let payload = field("payload")?;
    Some(InboxEntry::new(id, key, MemberId::from(member), payload))
}

/// The reply of `inbox_append_read.lua`: false (a duplicate), `[id]` (the new entry read),
/// `[id, false]` (none read) or `[id, older_id, older_fields]` (an older entry read instead).
fn appended_and_read(reply: redis::Value) -> Result<AppendedAndRead, InboxError> {
    let malformed = || InboxError::new("redis answered the inbox's append in another shape", None);
    let parts = match reply {
        redis::Value::Nil => return Ok(AppendedAndRead::Duplicate),
        redis::Value::Array(parts) => parts,
        _ => return Err(malformed()),
    };
    let mut parts = parts.into_iter();
    let id: String = parts
        .next()
        .and_then(|id| redis::from_redis_value(id).ok())
        .ok_or_else(malformed)?;
    let (older_id, older_fields) = match (parts.next(), parts.next()) {
        (None, _) => return Ok(AppendedAndRead::Read(id)),
        (Some(redis::Value::Nil), _) => return Ok(AppendedAndRead::Stored { id, older: None }),
        (Some(older_id), Some(fields)) => (older_id, fields),
        (Some(_), None) => return Err(malformed()),
    };
    let older_id: String = redis::from_redis_value(older_id).map_err(|_| malformed())?;
    let redis::Value::Array(fields) = older_fields else {
        return Err(malformed());
    };
    let mut map = HashMap::new();
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        let name: String = redis::from_redis_value(name).map_err(|_| malformed())?;
        map.insert(name, value);
    }
    let older = entry_of(older_id, map);
    Ok(AppendedAndRead::Stored { id, older })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl InboxStore for RedisInbox {
    async fn append(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> Result<Appended, InboxError> {
        let added: Option<String> = self
            .appending(&self.scripts.inbox_append, key, member_id, payload)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed("append to the inbox"))?;
        Ok(match added {
            Some(id) => {
                self.appended.notify_waiters();
                Appended::Added(id)
            }
            None => Appended::Duplicate,
        })
    }

    async fn append_and_read(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
        consumer: &str,
    ) -> Result<AppendedAndRead, InboxError> {
        let reply: redis::Value = self
            .appending(&self.scripts.inbox_append_read, key, member_id, payload)
            .arg(GROUP)
            .arg(consumer)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed("append to the inbox"))?;
        let appended = appended_and_read(reply)?;
        if matches!(appended, AppendedAndRead::Stored { .. }) {
            // Left for a read: wake this process's consumer.
            self.appended.notify_waiters();
        }
        Ok(appended)
    }

    async fn read(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let appended = self.appended.notified();
            let read = self.read_group(consumer, ">", max).await?;
            let now = tokio::time::Instant::now();
            if !read.is_empty() || now >= deadline {
                return Ok(read);
            }
            let pause = (deadline - now).min(self.poll_interval);
            let _ = tokio::time::timeout(pause, appended).await;
        }
    }

    async fn pending(
        &self,
        consumer: &str,
        after: Option<&str>,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        // XREADGROUP with an id reads the consumer's own pending entries after it.
        self.read_group(consumer, after.unwrap_or("0"), max).await
    }

    async fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<InboxEntry>, InboxError> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&*self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(millis(min_idle))
            .arg("0-0")
            .arg("COUNT")
            .arg(max)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failed("claim idle inbox entries"))?;
        Ok(reply.claimed.into_iter().filter_map(entry).collect())
    }

    async fn touch(&self, consumer: &str, ids: &[String]) -> Result<(), InboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut invocation = self.scripts.inbox_touch.key(&*self.stream);
        invocation.arg(GROUP).arg(consumer);
        for id in ids {
            invocation.arg(id);
        }
        let _touched: u64 = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed("touch inbox entries"))?;
        Ok(())
    }

    async fn ack(&self, id: &str) -> Result<(), InboxError> {
        self.ack_all(&[id.to_owned()]).await
    }

    async fn ack_all(&self, ids: &[String]) -> Result<(), InboxError> {
        for chunk in ids.chunks(ACKED_PER_CALL) {
            let mut invocation = self.scripts.inbox_ack.key(&*self.stream);
            invocation.arg(GROUP).arg(chunk);
            let _deleted: u64 = invocation
                .invoke_async(&mut self.connection.clone())
                .await
                .map_err(failed("acknowledge inbox entries"))?;
        }
        Ok(())
    }

    async fn fail(&self, id: &str, reason: &str) -> Result<(), InboxError> {
        let _deleted: u64 = self
            .scripts
            .inbox_fail
            .key(&*self.stream)
            .key(&*self.failed)
            .arg(GROUP)
            .arg(id)
            .arg(reason)
            .arg(FAILED_KEPT)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(failed("move a failed inbox entry aside"))?;
        Ok(())
    }
}
