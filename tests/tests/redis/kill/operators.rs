//! The operators of the inbound kill scenarios (issue 21): they open chats, reply in turns
//! ([`Operators::reply`]), and the portal's event log says which replies the connector
//! answered 200 ([`Intake`]).

use std::collections::BTreeSet;
use std::time::Duration;

use imconnector::prelude::*;
use imconnector_emulator::{DeliveryOutcome, Emulator, EmulatorHandle};
use imconnector_tests::kill::{chat_id, customer_message, line, CONNECTOR, LINE};
use tokio::sync::watch;

use crate::support::PATIENCE;

/// The wire name of the event every reply fires.
const MESSAGE_ADD: &str = "ONIMCONNECTORMESSAGEADD";

// The inbound scenarios' workload, shared by the online and the offline kill tests.
/// Kills of the child per run.
pub(super) const KILLS: usize = 5;
/// Operators' replies per run.
pub(super) const REPLIES: u64 = 1_000;
/// Chats the replies take turns in.
pub(super) const CHATS: u64 = 50;
/// One reply every this long.
pub(super) const PACE: Duration = Duration::from_millis(8);
/// Every REST call of the connector (confirming; polling and clearing offline) waits this long
/// at the portal.
pub(super) const PORTAL_LATENCY: Duration = Duration::from_millis(20);
/// The handler "sends" each reply this long before its effect, so kills find handlers in
/// flight.
pub(super) const HANDLER_DELAY: Duration = Duration::from_millis(5);
/// After the reply that arms a kill, the kill waits up to this long (drawn at random).
pub(super) const MOST_KILL_DELAY_MS: u64 = 200;

/// One operator reply: its chat and the Bitrix message id the portal gave it.
#[derive(Debug, Clone)]
pub struct SentReply {
    pub chat: String,
    pub message_id: u64,
}

/// The operators of the portal's line, each chat opened by a customer's first message.
#[derive(Clone)]
pub struct Operators {
    portal: EmulatorHandle,
    chats: Vec<String>,
}

impl Operators {
    /// Opens `chats` chats (one customer message each, sent by a client of the test's own)
    /// once the connector is provisioned on the line.
    pub async fn open_chats(portal: &Emulator, chats: u64) -> Self {
        let handle = portal.handle();
        let client = imconnector::emulator::client_builder(&handle)
            .build()
            .expect("a client");
        let connector = ConnectorId::new(CONNECTOR).expect("valid");
        let messages: Vec<_> = (0..chats)
            .map(|chat| customer_message(chat, chats))
            .collect();
        for pack in messages.chunks(50) {
            client
                .call(&SendMessages::new(connector.clone(), line(), pack.to_vec()))
                .await
                .expect("the customers' first messages are stored");
        }
        Self {
            portal: handle,
            chats: (0..chats).map(chat_id).collect(),
        }
    }

    /// The chats' external ids.
    pub fn chats(&self) -> &[String] {
        &self.chats
    }

    /// Replies `replies` times, the chats taking turns, one reply every `pace`; publishes how
    /// many were sent on `progress`. A chat's next reply waits until the portal's POST of its
    /// previous one finished (delivered or failed), so the portal's order per chat is never in
    /// doubt: one reply per chat in flight, as an operator answers after seeing theirs sent.
    pub async fn reply(
        self,
        replies: u64,
        pace: Duration,
        progress: watch::Sender<u64>,
    ) -> Vec<SentReply> {
        let posted_before = self.portal.event_deliveries().len() as u64;
        let mut sent = Vec::new();
        let mut ticker = tokio::time::interval(pace);
        for index in 0..replies {
            let chat = &self.chats[(index % self.chats.len() as u64) as usize];
            if index > 0 && index.is_multiple_of(self.chats.len() as u64) {
                // The previous round's POSTs finished: one reply per chat in flight.
                self.portal
                    .wait_for_event_deliveries(posted_before + index, PATIENCE)
                    .await
                    .expect("the portal's POSTs finish");
            }
            ticker.tick().await;
            let reply = self
                .portal
                .operator_reply(LINE, chat, &format!("operator reply {index}"))
                .expect("the operator replies");
            sent.push(SentReply {
                chat: chat.clone(),
                message_id: reply.message_id,
            });
            progress.send_replace(index + 1);
        }
        self.portal
            .wait_for_event_deliveries(posted_before + replies, PATIENCE)
            .await
            .expect("the portal's POSTs finish");
        sent
    }
}

/// What the portal's POSTs of the replies came to.
#[derive(Debug, Default)]
pub struct Intake {
    /// Replies the connector answered 2xx for: from then on the SDK answers for them.
    pub accepted: BTreeSet<u64>,
    /// Replies whose POST failed (refused while the connector was down, or cut by a kill):
    /// the portal shows them undelivered and never sends them again.
    pub refused: BTreeSet<u64>,
}

impl Intake {
    /// Reads the portal's event log.
    pub fn of(portal: &Emulator) -> Self {
        let mut intake = Self::default();
        for delivery in portal.event_deliveries() {
            if delivery.event != MESSAGE_ADD {
                continue;
            }
            let form = delivery.form();
            let message_id = form["data"]["MESSAGES"][0]["im"]["message_id"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok())
                .expect("a reply's POST names its message");
            match delivery.outcome {
                DeliveryOutcome::Delivered { .. } => {
                    intake.accepted.insert(message_id);
                }
                DeliveryOutcome::Failed { .. } => {
                    intake.refused.insert(message_id);
                }
                _ => panic!("every POST finished: {delivery:?}"),
            }
        }
        intake.refused.retain(|id| !intake.accepted.contains(id));
        intake
    }
}
