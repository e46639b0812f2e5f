//! Messages taken off the queue and not yet sent, by line, and how they are cut into packs.

use std::collections::{HashMap, HashSet, VecDeque};

use imconnector_api::wire::LineId;

use super::worker::Queued;
use super::Limits;

/// One `imconnector.send.messages` call: messages of one line, in queue order.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) line: LineId,
    pub(crate) messages: Vec<Queued>,
}

/// Unsent messages by line, lines taking turns.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_line: HashMap<LineId, VecDeque<Queued>>,
    /// Lines with unsent messages, oldest turn first.
    turns: VecDeque<LineId>,
    /// Lines with a request in flight: their next messages wait, to keep the line's order.
    busy: HashSet<LineId>,
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

    pub(crate) fn push(&mut self, queued: Queued) {
        let line = queued.line;
        let waiting = self.by_line.entry(line).or_default();
        if waiting.is_empty() {
            self.turns.push_back(line);
        }
        waiting.push_back(queued);
        self.count += 1;
    }

    /// Lines whose request finished may send again.
    pub(crate) fn release(&mut self, lines: &[LineId]) {
        for line in lines {
            self.busy.remove(line);
        }
    }

    /// The next request: the waiting messages of lines with nothing in flight, taken in turn,
    /// cut into calls of at most `messages_per_call`, at most `calls_per_request` calls. The
    /// lines taken become busy. `None` when no line can send.
    pub(crate) fn next_request(&mut self, limits: &Limits) -> Option<Vec<Call>> {
        let mut calls: Vec<Call> = Vec::new();
        let mut position = 0;
        while calls.len() < limits.calls_per_request && position < self.turns.len() {
            let line = self.turns[position];
            if self.busy.contains(&line) {
                position += 1;
                continue;
            }
            let Some(waiting) = self.by_line.get_mut(&line) else {
                position += 1;
                continue;
            };
            while calls.len() < limits.calls_per_request && !waiting.is_empty() {
                let size = waiting.len().min(limits.messages_per_call);
                let messages: Vec<Queued> = waiting.drain(..size).collect();
                self.count -= messages.len();
                calls.push(Call { line, messages });
            }
            self.busy.insert(line);
            if waiting.is_empty() {
                self.by_line.remove(&line);
                let _ = self.turns.remove(position);
            } else {
                // Its turn is over: the rest goes to the back of the line.
                let _ = self.turns.remove(position);
                self.turns.push_back(line);
            }
        }
        (!calls.is_empty()).then_some(calls)
    }
}
