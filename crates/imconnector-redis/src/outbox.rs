//! [`RedisOutbox`]: a sender's outbox in a Redis stream, so accepted messages survive the process.

use std::time::Duration;

use imconnector_transport::outbox::{
    Appended, EntryId, EntryState, Finished, NewEntry, Outbox, OutboxError, StoredEntry,
    DEFAULT_KEY_RETENTION,
};
use redis::Value;

use crate::{backend::RedisBackend, error::RedisBackendError, keys::check_member_id};

/// The consumer group every sender of one outbox joins.
const GROUP: &str = "senders";
/// The most entries one script moves or reads at once (Lua's `unpack` has a stack limit).
const PAGE: usize = 500;

/// An [`Outbox`] in Redis: a sender's accepted messages survive a crash, and a sender started
/// later (in this process or another) sends what was queued and reports what was in flight.
///
/// The entries of one portal and connector live in a stream (`…:{member_id}:outbox:<connector>`)
/// read by one consumer group: a sender appends an entry with `XADD` and, in the same script,
/// reads it into its own pending list, so the entry is its own from the start. A hash holds the
/// ids of entries in flight; an entry is acknowledged and deleted once the portal answered.
/// Each sender keeps a lease (a key with an expiry, renewed by its keep-alive); a sender whose
/// lease ran out (its process died) has its pending entries claimed (`XCLAIM`) by the next
/// sender that looks. An idempotency key is a string naming the entry that holds it; once the
/// entry is settled the key expires after [`key_retention`](Self::key_retention).
///
/// Every key carries the portal's `member_id` hash tag, so the scripts stay in one slot.
#[derive(Debug, Clone)]
pub struct RedisOutbox {
    backend: RedisBackend,
    stream: String,
    in_flight: String,
    lease_prefix: String,
    key_prefix: String,
    key_retention: Duration,
}

impl RedisBackend {
    /// The outbox of `connector`'s messages to portal `member_id`; give it to the sender
    /// (`imconnector::sender::SenderBuilder::outbox`).
    ///
    /// # Errors
    /// [`RedisBackendError::InvalidMemberId`] for a `member_id` that cannot name keys;
    /// [`RedisBackendError::InvalidSetting`] naming `connector` for an empty or over-long id,
    /// or one with characters other than ASCII letters, digits, `_`, `-` and `.`.
    pub fn outbox(
        &self,
        member_id: &str,
        connector: &str,
    ) -> Result<RedisOutbox, RedisBackendError> {
        check_member_id(member_id)?;
        let valid = !connector.is_empty()
            && connector.len() <= 128
            && connector.chars().all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.')
            });
        if !valid {
            return Err(RedisBackendError::InvalidSetting {
                name: "connector",
                reason: "must be 1 to 128 ASCII letters, digits, `_`, `-` or `.`".to_owned(),
            });
        }
        let base = format!("{}:{{{member_id}}}:outbox:{connector}", self.key_prefix());
        Ok(RedisOutbox {
            backend: self.clone(),
            stream: format!("{base}:stream"),
            in_flight: format!("{base}:in-flight"),
            lease_prefix: format!("{base}:consumer:"),
            key_prefix: format!("{base}:key:"),
            key_retention: DEFAULT_KEY_RETENTION,
        })
    }
}

fn outbox_error(error: RedisBackendError) -> OutboxError {
    OutboxError::new(error.to_string(), Some(Box::new(error)))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl RedisOutbox {
    /// How long the idempotency key of a settled entry is remembered (default
    /// [`DEFAULT_KEY_RETENTION`], a day): a resubmission within it is a duplicate.
    #[must_use]
    pub fn key_retention(mut self, retention: Duration) -> Self {
        self.key_retention = retention;
        self
    }

    /// The stream's key (for monitoring: `XLEN` is how many entries are held).
    pub fn stream_key(&self) -> &str {
        &self.stream
    }

    fn mark_key(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    fn malformed(&self, reason: impl Into<String>) -> RedisBackendError {
        RedisBackendError::Malformed {
            key: self.stream.clone(),
            reason: reason.into(),
        }
    }

    /// Reads the `{id, {field, value, ...}, in flight}` items the scripts return.
    fn entries(&self, items: Vec<Value>) -> Result<Vec<StoredEntry>, RedisBackendError> {
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let (id, fields, in_flight): (String, Vec<Vec<u8>>, i64) =
                redis::from_redis_value(item)
                    .map_err(|_| self.malformed("an entry is not `id, fields, state`"))?;
            let (mut chat, mut key, mut payload) = (None, None, None);
            for pair in fields.chunks(2) {
                let [name, value] = pair else { break };
                match name.as_slice() {
                    b"chat" => chat = String::from_utf8(value.clone()).ok(),
                    b"key" => key = String::from_utf8(value.clone()).ok(),
                    b"payload" => payload = Some(value.clone()),
                    _ => {}
                }
            }
            let (Some(chat), Some(key), Some(payload)) = (chat, key, payload) else {
                return Err(self.malformed(format!("entry {id} lacks `chat`, `key` or `payload`")));
            };
            entries.push(StoredEntry {
                id: EntryId::new(id),
                chat,
                key: (!key.is_empty()).then_some(key),
                payload,
                state: if in_flight == 1 {
                    EntryState::InFlight
                } else {
                    EntryState::Queued
                },
            });
        }
        // Adopted from several consumers: back into the order they were accepted.
        entries.sort_by_key(|entry| stream_order(&entry.id));
        Ok(entries)
    }

    async fn adopt(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> Result<Vec<StoredEntry>, RedisBackendError> {
        let mut adopted = Vec::new();
        loop {
            let items: Vec<Value> = self
                .backend
                .scripts()
                .outbox_adopt
                .key(&self.stream)
                .key(&self.in_flight)
                .arg(GROUP)
                .arg(consumer)
                .arg(&self.lease_prefix)
                .arg(millis(lease))
                .arg(PAGE)
                .invoke_async(&mut self.backend.connection())
                .await
                .map_err(RedisBackendError::redis("adopt outbox entries"))?;
            let full = items.len() >= PAGE;
            adopted.extend(self.entries(items)?);
            if !full {
                break;
            }
        }
        adopted.sort_by_key(|entry| stream_order(&entry.id));
        Ok(adopted)
    }

    async fn held(&self, consumer: &str) -> Result<Vec<StoredEntry>, RedisBackendError> {
        let mut held = Vec::new();
        let mut after = "0".to_owned();
        loop {
            let (last, items): (String, Vec<Value>) = self
                .backend
                .scripts()
                .outbox_held
                .key(&self.stream)
                .key(&self.in_flight)
                .arg(GROUP)
                .arg(consumer)
                .arg(&after)
                .arg(PAGE)
                .invoke_async(&mut self.backend.connection())
                .await
                .map_err(RedisBackendError::redis("read held outbox entries"))?;
            held.extend(self.entries(items)?);
            if last.is_empty() {
                break;
            }
            after = last;
        }
        held.sort_by_key(|entry| stream_order(&entry.id));
        Ok(held)
    }

    async fn append_entry(
        &self,
        consumer: &str,
        entry: &NewEntry,
    ) -> Result<Appended, RedisBackendError> {
        let mark = entry
            .key
            .as_deref()
            .map_or_else(|| self.mark_key(""), |key| self.mark_key(key));
        let (stored, id): (i64, String) = self
            .backend
            .scripts()
            .outbox_append
            .key(&self.stream)
            .key(mark)
            .arg(GROUP)
            .arg(consumer)
            .arg(entry.key.as_deref().unwrap_or(""))
            .arg(&entry.chat)
            .arg(&entry.payload)
            .invoke_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("append an outbox entry"))?;
        let id = EntryId::new(id);
        Ok(if stored == 1 {
            Appended::Accepted(id)
        } else {
            Appended::Duplicate(id)
        })
    }

    async fn by_ids(
        &self,
        script: &redis::Script,
        action: &'static str,
        consumer: &str,
        ids: &[EntryId],
    ) -> Result<Value, RedisBackendError> {
        let mut invocation = script.key(&self.stream);
        invocation.key(&self.in_flight).arg(GROUP).arg(consumer);
        for id in ids {
            invocation.arg(id.as_str());
        }
        invocation
            .invoke_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis(action))
    }

    async fn finish_entries(
        &self,
        consumer: &str,
        finished: &[Finished],
    ) -> Result<(), RedisBackendError> {
        let mut invocation = self.backend.scripts().outbox_finish.key(&self.stream);
        invocation
            .key(&self.in_flight)
            .arg(GROUP)
            .arg(consumer)
            .arg(millis(self.key_retention));
        let mut marks = 2;
        for done in finished {
            invocation.arg(done.id.as_str());
            match &done.key {
                Some(key) => {
                    marks += 1;
                    invocation.key(self.mark_key(key)).arg(marks);
                }
                None => {
                    invocation.arg(0);
                }
            }
            invocation.arg(if done.forget_key { "1" } else { "0" });
        }
        invocation
            .invoke_async::<i64>(&mut self.backend.connection())
            .await
            .map(drop)
            .map_err(RedisBackendError::redis("remove settled outbox entries"))
    }
}

/// A stream id `<ms>-<seq>` as numbers; anything else sorts first.
fn stream_order(id: &EntryId) -> (u64, u64) {
    let mut parts = id.as_str().splitn(2, '-');
    let mut number = || parts.next().and_then(|part| part.parse().ok()).unwrap_or(0);
    (number(), number())
}

impl Outbox for RedisOutbox {
    fn is_durable(&self) -> bool {
        true
    }

    async fn recover(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> Result<Vec<StoredEntry>, OutboxError> {
        self.adopt(consumer, lease).await.map_err(outbox_error)?;
        self.held(consumer).await.map_err(outbox_error)
    }

    async fn keep_alive(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> Result<Vec<StoredEntry>, OutboxError> {
        self.adopt(consumer, lease).await.map_err(outbox_error)
    }

    async fn append(&self, consumer: &str, entry: &NewEntry) -> Result<Appended, OutboxError> {
        self.append_entry(consumer, entry)
            .await
            .map_err(outbox_error)
    }

    async fn mark_in_flight(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> Result<Vec<EntryId>, OutboxError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let lost = self
            .by_ids(
                &self.backend.scripts().outbox_mark,
                "mark outbox entries in flight",
                consumer,
                ids,
            )
            .await
            .map_err(outbox_error)?;
        let lost: Vec<String> = redis::from_redis_value(lost)
            .map_err(|_| outbox_error(self.malformed("the marking script answered no id list")))?;
        Ok(lost.into_iter().map(EntryId::new).collect())
    }

    async fn requeue(&self, consumer: &str, ids: &[EntryId]) -> Result<(), OutboxError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.by_ids(
            &self.backend.scripts().outbox_requeue,
            "requeue outbox entries",
            consumer,
            ids,
        )
        .await
        .map(drop)
        .map_err(outbox_error)
    }

    async fn finish(&self, consumer: &str, finished: &[Finished]) -> Result<(), OutboxError> {
        if finished.is_empty() {
            return Ok(());
        }
        self.finish_entries(consumer, finished)
            .await
            .map_err(outbox_error)
    }

    async fn leave(&self, consumer: &str) -> Result<(), OutboxError> {
        redis::cmd("DEL")
            .arg(format!("{}{consumer}", self.lease_prefix))
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("give up an outbox lease"))
            .map_err(outbox_error)
    }
}
