//! [`MemoryInbox`]: the [`InboxStore`] model in one process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Appended, AppendedAndRead, InboxEntry, InboxError, InboxStore, DEFAULT_DEDUP_TTL};
use crate::MemberId;

/// Keeps the inbox in this process: for tests, and replicas sharing one `Arc` of it. **A crash
/// loses every entry it holds**, as it loses the pipeline's own queue: only a store outside the
/// process (Redis) keeps events across a crash.
#[derive(Debug)]
pub struct MemoryInbox {
    dedup_ttl: Duration,
    state: Mutex<State>,
    appended: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    entries: BTreeMap<u64, Stored>,
    /// Entries above this id were never read.
    last_read: u64,
    /// Read and not acknowledged: by whom, touched when.
    pending: HashMap<u64, (String, Instant)>,
    seen: HashMap<String, Instant>,
    /// The keys of `seen` in the order remembered, which is the order they expire in (one
    /// time to live for all): expiring looks only at the oldest, not at every key.
    seen_order: VecDeque<(Instant, String)>,
    failed: Vec<(InboxEntry, String)>,
}

#[derive(Debug, Clone)]
struct Stored {
    key: String,
    member_id: MemberId,
    payload: String,
}

impl Default for MemoryInbox {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryInbox {
    /// An empty inbox remembering keys for [`DEFAULT_DEDUP_TTL`].
    pub fn new() -> Self {
        Self::with_dedup_ttl(DEFAULT_DEDUP_TTL)
    }

    /// An empty inbox remembering keys for `ttl`.
    pub fn with_dedup_ttl(ttl: Duration) -> Self {
        Self {
            dedup_ttl: ttl,
            state: Mutex::default(),
            appended: Notify::new(),
        }
    }

    /// How many entries are stored (not yet acknowledged).
    pub fn len(&self) -> usize {
        self.state().entries.len()
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries moved aside with [`fail`](InboxStore::fail), with their reasons.
    pub fn failed(&self) -> Vec<(InboxEntry, String)> {
        self.state().failed.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn parse_id(id: &str) -> Result<u64, InboxError> {
    id.parse()
        .map_err(|_| InboxError::new(format!("`{id}` is not an entry id of this inbox"), None))
}

impl State {
    fn forget_expired(&mut self, now: Instant) {
        while let Some((expiry, _)) = self.seen_order.front() {
            if *expiry > now {
                break;
            }
            if let Some((expiry, key)) = self.seen_order.pop_front() {
                // Only the mark this entry made: a key seen again after expiring has a newer one.
                if self.seen.get(&key) == Some(&expiry) {
                    self.seen.remove(&key);
                }
            }
        }
    }

    fn entry(&self, id: u64) -> Option<InboxEntry> {
        self.entries.get(&id).map(|stored| {
            InboxEntry::new(
                id.to_string(),
                stored.key.clone(),
                stored.member_id.clone(),
                stored.payload.clone(),
            )
        })
    }

    fn take_unread(&mut self, consumer: &str, max: usize) -> Vec<InboxEntry> {
        let ids: Vec<u64> = self
            .entries
            .range(self.last_read + 1..)
            .take(max)
            .map(|(id, _)| *id)
            .collect();
        let now = Instant::now();
        let mut read = Vec::new();
        for id in ids {
            self.last_read = id;
            self.pending.insert(id, (consumer.to_owned(), now));
            read.extend(self.entry(id));
        }
        read
    }
}

impl MemoryInbox {
    /// Deduplicates and stores an event under the state's lock; the new entry's number.
    fn store(
        &self,
        state: &mut State,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> Option<u64> {
        let now = Instant::now();
        state.forget_expired(now);
        if state.seen.contains_key(key) {
            return None;
        }
        let expiry = now + self.dedup_ttl;
        state.seen.insert(key.to_owned(), expiry);
        state.seen_order.push_back((expiry, key.to_owned()));
        state.next_id += 1;
        let id = state.next_id;
        state.entries.insert(
            id,
            Stored {
                key: key.to_owned(),
                member_id: member_id.clone(),
                payload: payload.to_owned(),
            },
        );
        Some(id)
    }
}

impl InboxStore for MemoryInbox {
    fn append(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
    ) -> impl Future<Output = Result<Appended, InboxError>> + Send {
        let stored = self.store(&mut self.state(), key, member_id, payload);
        let appended = match stored {
            Some(id) => {
                self.appended.notify_waiters();
                Appended::Added(id.to_string())
            }
            None => Appended::Duplicate,
        };
        async move { Ok(appended) }
    }

    fn append_and_read(
        &self,
        key: &str,
        member_id: &MemberId,
        payload: &str,
        consumer: &str,
    ) -> impl Future<Output = Result<AppendedAndRead, InboxError>> + Send {
        let result = {
            let mut state = self.state();
            match self.store(&mut state, key, member_id, payload) {
                None => AppendedAndRead::Duplicate,
                Some(id) => {
                    let oldest_unread = state.take_unread(consumer, 1).pop();
                    match oldest_unread {
                        Some(read) if read.id == id.to_string() => AppendedAndRead::Read(read.id),
                        older => AppendedAndRead::Stored {
                            id: id.to_string(),
                            older,
                        },
                    }
                }
            }
        };
        if matches!(result, AppendedAndRead::Stored { .. }) {
            self.appended.notify_waiters();
        }
        async move { Ok(result) }
    }

    fn read(
        &self,
        consumer: &str,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        let consumer = consumer.to_owned();
        async move {
            let deadline = Instant::now() + wait;
            loop {
                // Registered before looking, so an append in between is not missed.
                let appended = self.appended.notified();
                let read = self.state().take_unread(&consumer, max);
                if !read.is_empty() || Instant::now() >= deadline {
                    return Ok(read);
                }
                if tokio::time::timeout_at(deadline, appended).await.is_err() {
                    return Ok(Vec::new());
                }
            }
        }
    }

    fn pending(
        &self,
        consumer: &str,
        after: Option<&str>,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        let result = after.map(parse_id).transpose().map(|after| {
            let state = self.state();
            let mut ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(id, (owner, _))| owner == consumer && Some(**id) > after)
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids.into_iter()
                .take(max)
                .filter_map(|id| state.entry(id))
                .collect()
        });
        async move { result }
    }

    fn claim(
        &self,
        consumer: &str,
        min_idle: Duration,
        max: usize,
    ) -> impl Future<Output = Result<Vec<InboxEntry>, InboxError>> + Send {
        let claimed = {
            let mut state = self.state();
            let now = Instant::now();
            let mut ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, (owner, touched))| {
                    owner != consumer && now.duration_since(*touched) >= min_idle
                })
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids.truncate(max);
            for id in &ids {
                state.pending.insert(*id, (consumer.to_owned(), now));
            }
            ids.into_iter().filter_map(|id| state.entry(id)).collect()
        };
        async move { Ok(claimed) }
    }

    fn touch(
        &self,
        consumer: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<(), InboxError>> + Send {
        let result = ids
            .iter()
            .map(|id| parse_id(id))
            .collect::<Result<Vec<_>, _>>()
            .map(|ids| {
                let mut state = self.state();
                let now = Instant::now();
                for id in ids {
                    if let Some((owner, touched)) = state.pending.get_mut(&id) {
                        if owner == consumer {
                            *touched = now;
                        }
                    }
                }
            });
        async move { result }
    }

    fn ack(&self, id: &str) -> impl Future<Output = Result<(), InboxError>> + Send {
        let result = parse_id(id).map(|id| {
            let mut state = self.state();
            state.pending.remove(&id);
            state.entries.remove(&id);
        });
        async move { result }
    }

    fn fail(&self, id: &str, reason: &str) -> impl Future<Output = Result<(), InboxError>> + Send {
        let result = parse_id(id).map(|id| {
            let mut state = self.state();
            if let Some(entry) = state.entry(id) {
                state.failed.push((entry, reason.to_owned()));
            }
            state.pending.remove(&id);
            state.entries.remove(&id);
        });
        async move { result }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_key_is_remembered_for_its_time_to_live_and_forgotten_after() {
        let inbox = MemoryInbox::with_dedup_ttl(Duration::from_secs(60));
        let member = MemberId::from("m");
        let append = |key: &'static str| {
            let (inbox, member) = (&inbox, &member);
            async move { inbox.append(key, member, "{}").await.unwrap() }
        };
        assert!(matches!(append("a").await, Appended::Added(_)));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(matches!(append("b").await, Appended::Added(_)));
        assert_eq!(append("a").await, Appended::Duplicate);
        tokio::time::advance(Duration::from_secs(31)).await;
        // `a` expired, `b` (30 s younger) not yet.
        assert!(matches!(append("a").await, Appended::Added(_)));
        assert_eq!(append("b").await, Appended::Duplicate);
        assert_eq!(append("a").await, Appended::Duplicate, "remembered anew");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(matches!(append("b").await, Appended::Added(_)));
        assert_eq!(append("a").await, Appended::Duplicate);
        let state = inbox.state();
        assert_eq!(state.seen.len(), 2);
        assert_eq!(
            state.seen_order.len(),
            2,
            "expired marks are dropped, not kept"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn entries_are_read_once_pending_until_acked_and_claimed_when_idle() {
        let inbox = MemoryInbox::new();
        let member = MemberId::from("m");
        assert!(matches!(
            inbox.append("k1", &member, "{}").await.unwrap(),
            Appended::Added(_)
        ));
        assert_eq!(
            inbox.append("k1", &member, "{}").await.unwrap(),
            Appended::Duplicate
        );
        inbox.append("k2", &member, "{}").await.unwrap();

        let read = inbox.read("a", 10, Duration::ZERO).await.unwrap();
        assert_eq!(read.len(), 2);
        assert!(inbox
            .read("b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(inbox.pending("a", None, 10).await.unwrap(), read);
        inbox.ack(&read[0].id).await.unwrap();
        assert_eq!(inbox.pending("a", None, 10).await.unwrap(), read[1..]);

        // Touched entries stay; idle ones go to another consumer.
        tokio::time::advance(Duration::from_secs(5)).await;
        inbox.touch("a", &[read[1].id.clone()]).await.unwrap();
        assert!(inbox
            .claim("b", Duration::from_secs(5), 10)
            .await
            .unwrap()
            .is_empty());
        tokio::time::advance(Duration::from_secs(5)).await;
        let claimed = inbox.claim("b", Duration::from_secs(5), 10).await.unwrap();
        assert_eq!(claimed, read[1..]);
        assert!(inbox.pending("a", None, 10).await.unwrap().is_empty());
        inbox.fail(&claimed[0].id, "broken").await.unwrap();
        assert!(inbox.is_empty());
        assert_eq!(inbox.failed()[0].1, "broken");
    }

    #[tokio::test]
    async fn append_and_read_reads_the_new_entry_unless_an_older_one_was_never_read() {
        let inbox = MemoryInbox::new();
        let member = MemberId::from("m");
        let AppendedAndRead::Read(first) = inbox
            .append_and_read("k1", &member, "{1}", "a")
            .await
            .unwrap()
        else {
            panic!("the new entry is read for the appending consumer");
        };
        assert_eq!(inbox.pending("a", None, 10).await.unwrap()[0].id, first);
        assert!(inbox
            .read("b", 10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty());

        // An entry nobody read yet goes first: it is read in place of the new one.
        let Appended::Added(unread) = inbox.append("k2", &member, "{2}").await.unwrap() else {
            panic!("stored");
        };
        let AppendedAndRead::Stored { id, older } = inbox
            .append_and_read("k3", &member, "{3}", "a")
            .await
            .unwrap()
        else {
            panic!("the older entry is read instead");
        };
        let older = older.unwrap();
        assert_eq!(
            (older.id.as_str(), older.payload.as_str()),
            (unread.as_str(), "{2}")
        );
        let pending: Vec<String> = inbox
            .pending("a", None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.id)
            .collect();
        assert_eq!(pending, [first, unread]);
        let read = inbox.read("b", 10, Duration::ZERO).await.unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].id, id, "the new entry is left for a read");

        assert_eq!(
            inbox
                .append_and_read("k1", &member, "{1}", "a")
                .await
                .unwrap(),
            AppendedAndRead::Duplicate
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_waits_for_an_append() {
        let inbox = std::sync::Arc::new(MemoryInbox::new());
        let reader = {
            let inbox = std::sync::Arc::clone(&inbox);
            tokio::spawn(async move { inbox.read("a", 10, Duration::from_secs(60)).await })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        inbox.append("k", &MemberId::from("m"), "{}").await.unwrap();
        assert_eq!(reader.await.unwrap().unwrap().len(), 1);
    }
}
