//! Messages taken off the queue and not yet sent, by chat, and how they are cut into requests.
//!
//! A chat (an external chat id on a line) has at most one request in flight, and its messages
//! keep their order inside a request (a call's messages, and a batch's calls, run in order), so
//! a chat's messages reach the portal in the order they were queued. Different chats of the
//! same line share calls and may be in different requests at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use imconnector_api::ids::LineId;
use imconnector_transport::outbox::EntryId;
use tokio::sync::oneshot;

use super::operation::{Operation, Payload};
use super::{Limits, SendId, SendReport};

/// A message on its way, with where to report its outcome.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) id: SendId,
    pub(crate) line: LineId,
    /// The external chat id (`chat.id`), which keeps the order.
    pub(crate) chat: Arc<str>,
    pub(crate) op: Operation,
    pub(crate) payload: Payload,
    /// Its entry in the outbox, and the entry's idempotency key.
    pub(crate) entry: EntryId,
    pub(crate) key: Option<String>,
    /// Where its outcome goes; `None` for entries recovered from the outbox, whose submitter
    /// is gone.
    pub(crate) reply: Option<oneshot::Sender<SendReport>>,
    /// Set once its request may have left (shared with the caller's `Submitted`).
    pub(crate) left: Arc<AtomicBool>,
}

/// What keeps order: an external chat on a line.
pub(crate) type ChatKey = (LineId, Arc<str>);

/// One call (`imconnector.send.messages`, `.update.messages` or `.delete.messages`):
/// messages of one line and one operation.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) line: LineId,
    pub(crate) op: Operation,
    pub(crate) messages: Vec<Queued>,
}

/// A request about to be sent: its calls, and the chats it holds until it is done.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) calls: Vec<Call>,
    pub(crate) chats: Vec<ChatKey>,
}

/// Unsent messages by chat, chats taking turns.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_chat: HashMap<ChatKey, VecDeque<Queued>>,
    /// Chats with unsent messages, oldest turn first.
    turns: VecDeque<ChatKey>,
    /// Chats with a request in flight: their next messages wait, to keep the chat's order.
    busy: HashSet<ChatKey>,
    count: usize,
}

impl Pending {
    /// Messages waiting.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Messages that could go out now: those of chats with nothing in flight.
    pub(crate) fn sendable(&self) -> usize {
        let held: usize = self
            .busy
            .iter()
            .filter_map(|chat| self.by_chat.get(chat))
            .map(VecDeque::len)
            .sum();
        self.count - held
    }

    pub(crate) fn push(&mut self, queued: Queued) {
        let key = (queued.line, Arc::clone(&queued.chat));
        let waiting = self.by_chat.entry(key.clone()).or_default();
        if waiting.is_empty() {
            self.turns.push_back(key);
        }
        waiting.push_back(queued);
        self.count += 1;
    }

    /// Takes every waiting message (the sender is stopping).
    pub(crate) fn take_all(&mut self) -> Vec<Queued> {
        self.turns.clear();
        self.count = 0;
        self.by_chat
            .drain()
            .flat_map(|(_, waiting)| waiting)
            .collect()
    }

    /// Chats whose request finished may send again.
    pub(crate) fn release(&mut self, chats: &[ChatKey]) {
        for chat in chats {
            self.busy.remove(chat);
        }
    }

    /// The next request: waiting messages of chats with nothing in flight, chats taking turns,
    /// put into one call per line and operation (a new call when one is full, at most
    /// `messages_per_call` messages each), at most `calls_per_request` calls. A chat gives one
    /// run of the same operation per request, so its operations keep their order. The chats
    /// taken become busy. `None` when no chat can send.
    pub(crate) fn next_request(&mut self, limits: &Limits) -> Option<Request> {
        let mut calls: Vec<Call> = Vec::new();
        let mut chats: Vec<ChatKey> = Vec::new();
        let mut position = 0;
        while position < self.turns.len() {
            let key = self.turns[position].clone();
            if self.busy.contains(&key) {
                position += 1;
                continue;
            }
            let Some(waiting) = self.by_chat.get_mut(&key) else {
                let _ = self.turns.remove(position);
                continue;
            };
            let mut took = false;
            let run = waiting.front().map(|queued| queued.op);
            while let Some(queued) = waiting.pop_front() {
                if Some(queued.op) != run {
                    waiting.push_front(queued);
                    break;
                }
                let op = queued.op;
                let open = calls
                    .iter()
                    .rposition(|call| call.line == key.0 && call.op == op)
                    .filter(|&index| calls[index].messages.len() < limits.messages_per_call);
                let index = match open {
                    Some(index) => index,
                    None if calls.len() < limits.calls_per_request => {
                        calls.push(Call {
                            line: key.0,
                            op,
                            messages: Vec::new(),
                        });
                        calls.len() - 1
                    }
                    None => {
                        waiting.push_front(queued);
                        break;
                    }
                };
                calls[index].messages.push(queued);
                self.count -= 1;
                took = true;
            }
            let emptied = waiting.is_empty();
            if took {
                self.busy.insert(key.clone());
                chats.push(key.clone());
            }
            if emptied {
                self.by_chat.remove(&key);
                let _ = self.turns.remove(position);
            } else if took {
                // Its turn is over: the rest waits at the back.
                let _ = self.turns.remove(position);
                self.turns.push_back(key);
            } else {
                // The request is full for this chat's line; others may still fit.
                position += 1;
            }
            if calls.len() == limits.calls_per_request
                && calls
                    .iter()
                    .all(|call| call.messages.len() >= limits.messages_per_call)
            {
                break;
            }
        }
        (!calls.is_empty()).then_some(Request { calls, chats })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use imconnector_api::types::{MessageBody, MessageChat, MessageIn, MessageUser};
    use tokio::sync::oneshot;

    use super::super::SendId;
    use super::*;

    fn line(id: i64) -> LineId {
        LineId::new(id).unwrap()
    }

    fn queued(id: u64, line_id: i64, chat: &str) -> Queued {
        queued_op(id, line_id, chat, Operation::Send)
    }

    fn queued_op(id: u64, line_id: i64, chat: &str, op: Operation) -> Queued {
        let (reply, _) = oneshot::channel();
        Queued {
            id: SendId(id),
            line: line(line_id),
            chat: Arc::from(chat),
            op,
            payload: Payload::Typed(MessageIn::new(
                MessageUser::new("user"),
                MessageBody::new().with_text(id.to_string()),
                MessageChat::new(chat),
            )),
            entry: EntryId::new(id.to_string()),
            key: None,
            reply: Some(reply),
            left: Arc::default(),
        }
    }

    #[test]
    fn a_chat_sends_one_run_of_one_operation_per_request() {
        let mut pending = Pending::default();
        pending.push(queued_op(0, 1, "a", Operation::Send));
        pending.push(queued_op(1, 1, "a", Operation::Send));
        pending.push(queued_op(2, 1, "a", Operation::Update));
        pending.push(queued_op(3, 1, "b", Operation::Send));
        pending.push(queued_op(4, 1, "a", Operation::Delete));
        let first = pending.next_request(&limits(10, 10)).unwrap();
        let ops: Vec<(Operation, Vec<u64>)> = first
            .calls
            .iter()
            .map(|call| (call.op, call.messages.iter().map(|q| q.id.0).collect()))
            .collect();
        // Chat a's two sends share the call with chat b's; its update waits for the next turn.
        assert_eq!(ops, [(Operation::Send, vec![0, 1, 3])]);
        pending.release(&first.chats);
        let second = pending.next_request(&limits(10, 10)).unwrap();
        assert_eq!(second.calls.len(), 1);
        assert_eq!(second.calls[0].op, Operation::Update);
        pending.release(&second.chats);
        let third = pending.next_request(&limits(10, 10)).unwrap();
        assert_eq!(third.calls[0].op, Operation::Delete);
        assert!(pending.is_empty());
    }

    fn limits(messages_per_call: usize, calls_per_request: usize) -> Limits {
        Limits {
            capacity: 100,
            messages_per_call,
            calls_per_request,
            requests_in_flight: 4,
        }
    }

    /// `(line, message ids)` of each call of a request.
    fn shape(request: &Request) -> Vec<(i64, Vec<u64>)> {
        request
            .calls
            .iter()
            .map(|call| {
                let ids = call.messages.iter().map(|queued| queued.id.get()).collect();
                (call.line.get(), ids)
            })
            .collect()
    }

    #[test]
    fn chats_of_a_line_share_calls_and_take_turns() {
        let mut pending = Pending::default();
        for (id, line_id, chat) in [
            (0, 1, "a"),
            (1, 1, "b"),
            (2, 2, "c"),
            (3, 1, "a"),
            (4, 1, "a"),
        ] {
            pending.push(queued(id, line_id, chat));
        }
        // Calls of two messages, two calls a request: chat a fills line 1's first call and opens
        // a second; chat b joins it; chat c (line 2) no longer fits.
        let first = pending.next_request(&limits(2, 2)).unwrap();
        assert_eq!(shape(&first), [(1, vec![0, 3]), (1, vec![4, 1])]);
        assert_eq!(first.chats.len(), 2);
        let second = pending.next_request(&limits(2, 2)).unwrap();
        assert_eq!(shape(&second), [(2, vec![2])]);
        assert!(pending.is_empty());
        assert!(pending.next_request(&limits(2, 2)).is_none());
    }

    #[test]
    fn a_busy_chat_waits_while_other_chats_of_its_line_go() {
        let mut pending = Pending::default();
        pending.push(queued(0, 1, "a"));
        let first = pending.next_request(&limits(10, 10)).unwrap();
        pending.push(queued(1, 1, "a"));
        pending.push(queued(2, 1, "b"));
        // Chat a has a request in flight: only chat b may go.
        let second = pending.next_request(&limits(10, 10)).unwrap();
        assert_eq!(shape(&second), [(1, vec![2])]);
        assert!(pending.next_request(&limits(10, 10)).is_none());
        pending.release(&first.chats);
        assert_eq!(
            shape(&pending.next_request(&limits(10, 10)).unwrap()),
            [(1, vec![1])]
        );
        assert!(pending.is_empty());
    }

    #[test]
    fn a_long_backlog_is_cut_into_full_calls_and_requests() {
        let mut pending = Pending::default();
        for id in 0..7 {
            pending.push(queued(id, 1, "busy"));
        }
        let first = pending.next_request(&limits(3, 2)).unwrap();
        assert_eq!(shape(&first), [(1, vec![0, 1, 2]), (1, vec![3, 4, 5])]);
        assert_eq!(pending.len(), 1);
        pending.release(&first.chats);
        assert_eq!(
            shape(&pending.next_request(&limits(3, 2)).unwrap()),
            [(1, vec![6])]
        );
    }
}
