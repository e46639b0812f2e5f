//! The judgement of the inbound kill scenarios (issue 21): the handler's effects in Redis
//! against the replies sent and what the portal made of them ([`Verdict`]), and the report.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use imconnector_emulator::{Direction, Emulator};
use imconnector_tests::kill_inbound::{EffectKeys, Effects};

use super::operators::{Intake, Operators, SentReply};
use crate::support::PATIENCE;

/// The replies whose delivery the connector confirmed (`imconnector.send.status.delivery`
/// named them with the handler's external id).
fn confirmed(portal: &Emulator) -> BTreeSet<u64> {
    portal
        .all_messages()
        .into_iter()
        .filter(|message| {
            message.direction == Direction::Outgoing
                && message.delivered
                && message.external_ids == [format!("sent-{}", message.id)]
        })
        .map(|message| message.id)
        .collect()
}

/// Waits until every accepted reply (and every one of `also`) has its effect and its
/// confirmation, or [`PATIENCE`] passed: the verdict then names what is missing.
pub async fn wait_until_settled(
    portal: &Emulator,
    redis: &mut redis::aio::ConnectionManager,
    keys: &EffectKeys,
    operators: &Operators,
    intake: &Intake,
    also: &BTreeSet<u64>,
) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < PATIENCE {
        let effects = Effects::read(redis, keys, operators.chats().iter().cloned())
            .await
            .expect("Redis answers");
        let applied: BTreeSet<u64> = effects.chats.values().flatten().copied().collect();
        let confirmed = confirmed(portal);
        if intake
            .accepted
            .iter()
            .chain(also)
            .all(|id| applied.contains(id) && confirmed.contains(id))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The handler's effects judged against the portal.
#[derive(Debug, Default)]
pub struct Verdict {
    pub sent: usize,
    pub accepted: usize,
    /// Refused by the child (down or killed mid-POST): the portal shows them undelivered.
    pub refused: usize,
    /// Accepted without an effect: lost by the SDK.
    pub lost: Vec<u64>,
    /// Effects that happened more than once.
    pub duplicated: Vec<u64>,
    /// Chats whose effects are not in the portal's order.
    pub out_of_order: Vec<String>,
    /// Accepted, with no delivery confirmation in the portal.
    pub unconfirmed: Vec<u64>,
    /// Effects of replies never sent (a wrong key or message id).
    pub unknown: Vec<u64>,
    /// Replies whose POST failed although the child had kept them (appended, then killed
    /// before the 200 left): handled and confirmed all the same.
    pub handled_refused: usize,
    /// Handler runs in all, and re-runs (beyond the first per reply).
    pub runs: u64,
    pub reruns: u64,
}

impl Verdict {
    /// Judges `effects` against the replies `sent` and what the portal made of them.
    pub fn judge(
        portal: &Emulator,
        sent: &[SentReply],
        intake: &Intake,
        effects: &Effects,
    ) -> Self {
        let position: HashMap<u64, usize> = sent
            .iter()
            .enumerate()
            .map(|(position, reply)| (reply.message_id, position))
            .collect();
        let chat_of: HashMap<u64, &str> = sent
            .iter()
            .map(|reply| (reply.message_id, reply.chat.as_str()))
            .collect();
        let mut copies: BTreeMap<u64, usize> = BTreeMap::new();
        let mut verdict = Self {
            sent: sent.len(),
            accepted: intake.accepted.len(),
            refused: intake.refused.len(),
            runs: effects.runs.values().sum(),
            reruns: effects.reruns(),
            ..Self::default()
        };
        for (chat, ids) in &effects.chats {
            let mut last = None;
            for id in ids {
                *copies.entry(*id).or_default() += 1;
                let Some(&at) = position.get(id) else {
                    verdict.unknown.push(*id);
                    continue;
                };
                if chat_of.get(id) != Some(&chat.as_str()) || last.is_some_and(|last| last >= at) {
                    verdict.out_of_order.push(format!("{chat}: {ids:?}"));
                    break;
                }
                last = Some(at);
            }
        }
        verdict.duplicated = copies
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(id, _)| *id)
            .collect();
        let confirmed = confirmed(portal);
        for id in &intake.accepted {
            if !copies.contains_key(id) {
                verdict.lost.push(*id);
            }
            if !confirmed.contains(id) {
                verdict.unconfirmed.push(*id);
            }
        }
        verdict.handled_refused = intake
            .refused
            .iter()
            .filter(|id| copies.contains_key(id))
            .count();
        verdict
    }

    /// The scenario's figures, one line (`FIGURE kill/<scenario> ...`).
    pub fn print(&self, scenario: &str, seed: u64, kills: usize, chats: usize, extra: &str) {
        println!(
            "FIGURE kill/{scenario} seed {seed}: {kills} kill(s), {} replies across {chats} chats; \
             {} accepted (answered 200), {} lost of the accepted, {} effects twice, {} chats out \
             of order, {} accepted unconfirmed; {} handler runs, {} re-runs; {} refused by the \
             connector while it was down or dying ({} of them kept and handled anyway){extra}",
            self.sent,
            self.accepted,
            self.lost.len(),
            self.duplicated.len(),
            self.out_of_order.len(),
            self.unconfirmed.len(),
            self.runs,
            self.reruns,
            self.refused,
            self.handled_refused,
        );
        println!(
            "  note: a refused online event is lost at the portal, which shows it undelivered and \
             never sends it again; that is outside the SDK's reach in online mode (offline events \
             exist for it). The claim covers the accepted ones."
        );
    }

    /// Every chat's effects in the portal's order.
    pub fn assert_in_order(&self, seed: u64) {
        assert!(
            self.out_of_order.is_empty(),
            "out of order (seed {seed}): {:?}",
            self.out_of_order
        );
    }

    /// No accepted reply lost, none applied twice, every one confirmed.
    pub fn assert_nothing_lost(&self, seed: u64) {
        assert!(
            self.lost.is_empty(),
            "accepted, never handled (seed {seed}): {:?}",
            self.lost
        );
        assert!(
            self.duplicated.is_empty(),
            "effect twice (seed {seed}): {:?}",
            self.duplicated
        );
        assert!(
            self.unknown.is_empty(),
            "effects of no reply (seed {seed}): {:?}",
            self.unknown
        );
        assert!(
            self.unconfirmed.is_empty(),
            "accepted, not confirmed delivered (seed {seed}): {:?}",
            self.unconfirmed
        );
        assert!(self.accepted > 0, "the connector accepted replies");
    }
}
