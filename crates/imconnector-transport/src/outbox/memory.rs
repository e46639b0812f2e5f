//! [`MemoryOutbox`]: the outbox of one process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{
    Appended, EntryId, EntryState, Finished, NewEntry, Outbox, OutboxError, StoredEntry,
    DEFAULT_KEY_RETENTION,
};

/// The most idempotency keys of sent entries remembered at once; the oldest go first.
const MAX_REMEMBERED_KEYS: usize = 100_000;

/// Keeps a sender's entries in this process's memory: the embedded default.
///
/// **A crash, a kill or a deploy loses everything it holds**, queued messages included, and
/// nothing is reported in doubt afterwards. It still gives one process what the outbox
/// promises: duplicates recognised by key, and in-flight entries of a sender that was dropped
/// without finishing reported in doubt to a sender started later on the same (shared)
/// outbox. Use `imconnector_redis::RedisOutbox` for messages that must survive the process.
#[derive(Debug)]
pub struct MemoryOutbox {
    state: Mutex<State>,
    key_retention: Duration,
}

impl Default for MemoryOutbox {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            key_retention: DEFAULT_KEY_RETENTION,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    entries: BTreeMap<u64, Held>,
    /// Keys of held entries (no expiry) and of sent ones (until their expiry).
    keys: HashMap<String, (u64, Option<Instant>)>,
    /// Keys of sent entries in the order they expire.
    expiring: VecDeque<(Instant, String)>,
    leases: HashMap<String, Instant>,
}

#[derive(Debug)]
struct Held {
    chat: String,
    key: Option<String>,
    payload: Vec<u8>,
    owner: String,
    in_flight: bool,
}

impl MemoryOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long the key of a sent entry is remembered (default
    /// [`DEFAULT_KEY_RETENTION`]); at most 100,000 keys are, the oldest forgotten first.
    #[must_use]
    pub fn key_retention(mut self, retention: Duration) -> Self {
        self.key_retention = retention;
        self
    }

    fn with<T>(&self, work: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.expire_keys(Instant::now());
        work(&mut state)
    }
}

fn seq(id: &EntryId) -> Option<u64> {
    id.as_str().parse().ok()
}

impl State {
    fn expire_keys(&mut self, now: Instant) {
        while let Some((when, _)) = self.expiring.front() {
            if *when > now && self.expiring.len() <= MAX_REMEMBERED_KEYS {
                break;
            }
            if let Some((_, key)) = self.expiring.pop_front() {
                if matches!(self.keys.get(&key), Some((_, Some(_)))) {
                    self.keys.remove(&key);
                }
            }
        }
    }

    fn stored(seq: u64, held: &Held) -> StoredEntry {
        StoredEntry {
            id: EntryId::new(seq.to_string()),
            chat: held.chat.clone(),
            key: held.key.clone(),
            payload: held.payload.clone(),
            state: if held.in_flight {
                EntryState::InFlight
            } else {
                EntryState::Queued
            },
        }
    }

    /// Renews `consumer`'s lease and takes the entries of consumers whose lease ran out.
    fn adopt(&mut self, consumer: &str, lease: Duration) -> Vec<StoredEntry> {
        let now = Instant::now();
        self.leases.insert(consumer.to_owned(), now + lease);
        self.leases.retain(|_, until| *until > now);
        let leases = &self.leases;
        let mut adopted = Vec::new();
        for (&seq, held) in &mut self.entries {
            if held.owner != consumer && !leases.contains_key(&held.owner) {
                consumer.clone_into(&mut held.owner);
                adopted.push(Self::stored(seq, held));
            }
        }
        adopted
    }
}

impl Outbox for MemoryOutbox {
    fn is_durable(&self) -> bool {
        false
    }

    fn recover(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send {
        let held = self.with(|state| {
            state.adopt(consumer, lease);
            state
                .entries
                .iter()
                .filter(|(_, held)| held.owner == consumer)
                .map(|(&seq, held)| State::stored(seq, held))
                .collect()
        });
        async move { Ok(held) }
    }

    fn keep_alive(
        &self,
        consumer: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, OutboxError>> + Send {
        let adopted = self.with(|state| state.adopt(consumer, lease));
        async move { Ok(adopted) }
    }

    fn append(
        &self,
        consumer: &str,
        entry: &NewEntry,
    ) -> impl Future<Output = Result<Appended, OutboxError>> + Send {
        let appended = self.with(|state| {
            if let Some((seq, _)) = entry.key.as_ref().and_then(|key| state.keys.get(key)) {
                return Appended::Duplicate(EntryId::new(seq.to_string()));
            }
            let seq = state.next;
            state.next += 1;
            if let Some(key) = &entry.key {
                state.keys.insert(key.clone(), (seq, None));
            }
            state.entries.insert(
                seq,
                Held {
                    chat: entry.chat.clone(),
                    key: entry.key.clone(),
                    payload: entry.payload.clone(),
                    owner: consumer.to_owned(),
                    in_flight: false,
                },
            );
            Appended::Accepted(EntryId::new(seq.to_string()))
        });
        async move { Ok(appended) }
    }

    fn mark_in_flight(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<Vec<EntryId>, OutboxError>> + Send {
        let lost = self.with(|state| {
            let mut lost = Vec::new();
            for id in ids {
                match seq(id).and_then(|seq| state.entries.get_mut(&seq)) {
                    Some(held) if held.owner == consumer => held.in_flight = true,
                    _ => lost.push(id.clone()),
                }
            }
            lost
        });
        async move { Ok(lost) }
    }

    fn requeue(
        &self,
        consumer: &str,
        ids: &[EntryId],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        self.with(|state| {
            for id in ids {
                if let Some(held) = seq(id).and_then(|seq| state.entries.get_mut(&seq)) {
                    if held.owner == consumer {
                        held.in_flight = false;
                    }
                }
            }
        });
        async { Ok(()) }
    }

    fn finish(
        &self,
        consumer: &str,
        finished: &[Finished],
    ) -> impl Future<Output = Result<(), OutboxError>> + Send {
        let retention = self.key_retention;
        self.with(|state| {
            let now = Instant::now();
            for done in finished {
                let Some(seq) = seq(&done.id) else { continue };
                if state
                    .entries
                    .get(&seq)
                    .is_none_or(|held| held.owner != consumer)
                {
                    continue;
                }
                state.entries.remove(&seq);
                let Some(key) = &done.key else { continue };
                if !matches!(state.keys.get(key), Some((held, _)) if *held == seq) {
                    continue;
                }
                if done.forget_key {
                    state.keys.remove(key);
                } else {
                    let until = now + retention;
                    state.keys.insert(key.clone(), (seq, Some(until)));
                    state.expiring.push_back((until, key.clone()));
                }
            }
            state.expire_keys(now);
        });
        async { Ok(()) }
    }

    fn leave(&self, consumer: &str) -> impl Future<Output = Result<(), OutboxError>> + Send {
        self.with(|state| state.leases.remove(consumer));
        async { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(chat: &str, key: Option<&str>) -> NewEntry {
        NewEntry {
            chat: chat.to_owned(),
            key: key.map(str::to_owned),
            payload: chat.as_bytes().to_vec(),
        }
    }

    const LEASE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_key_is_taken_while_held_and_after_sending_unless_forgotten() {
        let outbox = MemoryOutbox::new();
        outbox.recover("a", LEASE).await.unwrap();
        let Appended::Accepted(first) = outbox.append("a", &entry("c", Some("k"))).await.unwrap()
        else {
            panic!("first append refused")
        };
        assert_eq!(
            outbox.append("a", &entry("c", Some("k"))).await.unwrap(),
            Appended::Duplicate(first.clone())
        );
        let done = |forget_key| Finished {
            id: first.clone(),
            key: Some("k".to_owned()),
            forget_key,
        };
        outbox.finish("a", &[done(false)]).await.unwrap();
        assert!(matches!(
            outbox.append("a", &entry("c", Some("k"))).await.unwrap(),
            Appended::Duplicate(_)
        ));
        let Appended::Accepted(other) = outbox.append("a", &entry("c", Some("j"))).await.unwrap()
        else {
            panic!("a new key refused")
        };
        outbox
            .finish(
                "a",
                &[Finished {
                    id: other,
                    key: Some("j".to_owned()),
                    forget_key: true,
                }],
            )
            .await
            .unwrap();
        assert!(matches!(
            outbox.append("a", &entry("c", Some("j"))).await.unwrap(),
            Appended::Accepted(_)
        ));
    }

    #[tokio::test]
    async fn a_consumer_that_left_hands_its_entries_over_with_their_state() {
        let outbox = MemoryOutbox::new();
        outbox.recover("old", LEASE).await.unwrap();
        outbox.recover("new", LEASE).await.unwrap();
        let mut ids = Vec::new();
        for chat in ["1", "2", "3"] {
            match outbox.append("old", &entry(chat, None)).await.unwrap() {
                Appended::Accepted(id) => ids.push(id),
                other => panic!("{other:?}"),
            }
        }
        assert!(outbox
            .mark_in_flight("old", &ids[..1])
            .await
            .unwrap()
            .is_empty());
        // Still leased: nothing to adopt.
        assert!(outbox.keep_alive("new", LEASE).await.unwrap().is_empty());
        outbox.leave("old").await.unwrap();
        let adopted = outbox.keep_alive("new", LEASE).await.unwrap();
        let seen: Vec<(&str, EntryState)> = adopted
            .iter()
            .map(|entry| (entry.chat.as_str(), entry.state))
            .collect();
        assert_eq!(
            seen,
            [
                ("1", EntryState::InFlight),
                ("2", EntryState::Queued),
                ("3", EntryState::Queued)
            ]
        );
        // The old consumer no longer holds them: it may neither send nor remove them.
        assert_eq!(outbox.mark_in_flight("old", &ids).await.unwrap(), ids);
        outbox
            .finish(
                "old",
                &[Finished {
                    id: ids[1].clone(),
                    key: None,
                    forget_key: false,
                }],
            )
            .await
            .unwrap();
        assert_eq!(outbox.recover("new", LEASE).await.unwrap().len(), 3);
    }
}
