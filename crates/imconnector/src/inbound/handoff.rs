//! The events the receiver appended to a durable inbox, kept decoded for the consumer of the
//! same process, so an entry this process wrote is not parsed and decoded a second time when it
//! reads it back (the two decodes were the largest cost the inbox added per event).
//!
//! The inbox stays the truth: an entry not found here (read by another replica, read after a
//! restart, or pushed out by newer ones) is decoded from its stored payload, which is the same
//! verified body. At most [`KEPT`] events are held; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use imconnector_api::events::Event;

/// How many appended events are kept for the local consumer.
pub(crate) const KEPT: usize = 4_096;

/// Decoded events by inbox entry id; see the [module docs](self).
#[derive(Default)]
pub(crate) struct Handoff {
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    events: HashMap<String, Event>,
    /// Entry ids in the order kept (some already taken), to push out the oldest.
    order: VecDeque<String>,
}

impl Handoff {
    /// Keeps `event`, appended as entry `id`.
    pub(crate) fn keep(&self, id: String, event: Event) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while held.order.len() >= KEPT {
            if let Some(oldest) = held.order.pop_front() {
                held.events.remove(&oldest);
            }
        }
        held.order.push_back(id.clone());
        held.events.insert(id, event);
    }

    /// The decoded event of entry `id`, if this process appended it and still holds it.
    pub(crate) fn take(&self, id: &str) -> Option<Event> {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .events
            .remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u64) -> Event {
        let body = format!(
            r#"{{"event":"ONIMCONNECTORLINEDELETE","data":{id},"ts":1,"auth":{{"application_token":"verified","member_id":"m","domain":"x.bitrix24.com"}}}}"#
        );
        Event::from_json(body.as_bytes()).expect("a valid event")
    }

    #[test]
    fn an_event_is_taken_once_and_the_oldest_go_past_the_bound() {
        let handoff = Handoff::default();
        handoff.keep("1-0".to_owned(), event(1));
        assert!(handoff.take("1-0").is_some());
        assert!(handoff.take("1-0").is_none(), "taken once");
        for index in 0..=KEPT as u64 {
            handoff.keep(format!("{index}-1"), event(index));
        }
        assert!(handoff.take("0-1").is_none(), "the oldest was pushed out");
        assert!(handoff.take(&format!("{KEPT}-1")).is_some());
        let held = handoff.held.lock().expect("not poisoned");
        assert!(held.order.len() <= KEPT && held.events.len() <= KEPT);
    }
}
