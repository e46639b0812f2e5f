//! Checking the outcomes the sender reported against what the portal stored.

use std::collections::HashMap;

use imconnector::emulator::{Direction, EmulatorHandle};
use imconnector::sender::{SendOutcome, SendReport};

/// The count of each outcome, and of every way an outcome can be wrong.
#[derive(Debug, Default)]
pub struct Tally {
    pub delivered: u64,
    pub rejected: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Messages reported unknown that the portal did store.
    pub unknown_stored: u64,
    /// Messages without an outcome.
    pub lost: u64,
    /// Extra copies in the portal.
    pub duplicated: u64,
    /// Stored messages nobody sent.
    pub stored_unsent: u64,
    /// Outcomes that contradict the portal.
    pub wrong: Vec<String>,
}

impl Tally {
    /// Message `index` is `soak-{index}`: each must be in the portal exactly once when reported
    /// delivered, never when reported failed or rejected, at most once when unknown.
    pub fn of(messages: u64, outcomes: &[SendReport], portal: &EmulatorHandle) -> Self {
        let mut stored: HashMap<String, u64> = HashMap::new();
        for message in portal.all_messages() {
            if message.direction == Direction::Incoming {
                for id in message.external_ids {
                    *stored.entry(id).or_default() += 1;
                }
            }
        }
        let mut tally = Tally {
            lost: messages - outcomes.len() as u64,
            ..Tally::default()
        };
        for (index, delivery) in outcomes.iter().enumerate() {
            assert_eq!(delivery.id.get(), index as u64);
            let copies = stored.remove(&format!("soak-{index}")).unwrap_or_default();
            tally.duplicated += copies.saturating_sub(1);
            let fits = match &delivery.outcome {
                SendOutcome::Stored(_) => {
                    tally.delivered += 1;
                    copies == 1
                }
                SendOutcome::Rejected(_) => {
                    tally.rejected += 1;
                    copies == 0
                }
                SendOutcome::Failed(_) => {
                    tally.failed += 1;
                    copies == 0
                }
                SendOutcome::Unknown(_) => {
                    tally.unknown += 1;
                    tally.unknown_stored += copies;
                    copies <= 1
                }
                other => panic!("an outcome this test does not know: {other:?}"),
            };
            if !fits {
                tally.wrong.push(format!(
                    "soak-{index}: {:?} but stored {copies} times",
                    delivery.outcome
                ));
            }
        }
        tally.stored_unsent = stored.values().sum();
        tally
    }
}
