//! One batch of one portal's queue: reserve, keep the `process_id`, hand the rows to the
//! pipeline, then clear what it handled and mark failed what it could not.

use std::sync::Arc;

use imconnector_api::methods::{ClearOfflineEvents, GetOfflineEvents, MarkOfflineEventsFailed};
use imconnector_api::types::OfflineEventRow;
use imconnector_transport::{MemberId, OfflineCursorStore};

use super::{Inner, OfflineError, PollReport, PortalEntry};
use crate::inbound::{DedupKey, Outcome, Ticket};
use crate::log_text::untrusted;
use crate::receiver::EventHandler;

/// Reads up to one batch of rows (the failed ones when `failed`), submits them to the pipeline
/// in queue order and settles each by its outcome: cleared when handled (or a duplicate of a
/// handled one), marked failed when its handler failed on every attempt, left reserved when
/// its outcome is unknown.
pub(crate) async fn poll_batch<H: EventHandler, S: OfflineCursorStore>(
    inner: &Arc<Inner<H, S>>,
    member_id: &MemberId,
    portal: &PortalEntry,
    failed: bool,
) -> Result<PollReport, OfflineError> {
    let cursor = match inner.cursors.load(member_id).await? {
        Some(process_id) => process_id,
        None => {
            // Chosen here and stored before the portal reserves anything under it, so no
            // moment exists where rows are hidden under a process_id nobody kept.
            let process_id = new_process_id();
            inner.cursors.save(member_id, &process_id).await?;
            process_id
        }
    };
    let request = GetOfflineEvents::new()
        .with_clear(false)
        .with_process_id(cursor.clone())
        .with_limit(inner.settings.batch_size)
        .with_error(failed);
    let answer = portal
        .client
        .call(&request)
        .await
        .map_err(OfflineError::Portal)?;
    let process_id = answer
        .process_id
        .filter(|id| !id.is_empty())
        .unwrap_or(cursor.clone());
    if process_id != cursor {
        // The portal named another process: keep it before handling what it reserved.
        inner.cursors.save(member_id, &process_id).await?;
    }
    let mut report = PollReport {
        process_id: process_id.clone(),
        rows: answer.events.len(),
        handled: Vec::new(),
        duplicates: Vec::new(),
        failed: Vec::new(),
        left: Vec::new(),
    };
    // All submitted first (in queue order: the pipeline keeps each chat's order and runs
    // chats in parallel), then awaited: the confirmations of the batch gather into few calls.
    let mut tickets: Vec<(String, Ticket)> = Vec::with_capacity(answer.events.len());
    let mut closed = false;
    for row in answer.events {
        if closed {
            report.left.push(row.message_id);
            continue;
        }
        match submit(inner, member_id, portal, &row).await {
            Submitted::Ticket(ticket) => tickets.push((row.message_id, ticket)),
            Submitted::Undecodable => report.failed.push(row.message_id),
            Submitted::Closed => {
                closed = true;
                report.left.push(row.message_id);
            }
        }
    }
    for (message_id, ticket) in tickets {
        match ticket.await {
            Outcome::Handled => report.handled.push(message_id),
            Outcome::Duplicate => {
                report.duplicates.push(message_id.clone());
                report.handled.push(message_id);
            }
            // Reported by the pipeline (log and `handler_failed`).
            Outcome::Failed(_) => report.failed.push(message_id),
            // Still running from an earlier batch, or the pipeline stopped: not settled.
            _ => report.left.push(message_id),
        }
    }
    if !report.failed.is_empty() {
        let mark = MarkOfflineEventsFailed::new(process_id.clone())
            .with_message_id(report.failed.iter().cloned());
        portal
            .client
            .call(&mark)
            .await
            .map_err(OfflineError::Portal)?;
    }
    if !report.handled.is_empty() {
        let clear =
            ClearOfflineEvents::new(process_id).with_message_id(report.handled.iter().cloned());
        portal
            .client
            .call(&clear)
            .await
            .map_err(OfflineError::Portal)?;
    }
    Ok(report)
}

enum Submitted {
    Ticket(Ticket),
    Undecodable,
    Closed,
}

/// Decodes `row` and submits it under its offline key (portal + event + `MESSAGE_ID`).
async fn submit<H: EventHandler, S: OfflineCursorStore>(
    inner: &Arc<Inner<H, S>>,
    member_id: &MemberId,
    portal: &PortalEntry,
    row: &OfflineEventRow,
) -> Submitted {
    let event = match row.to_event(member_id, &portal.domain) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(member_id = %untrusted(member_id), row = %untrusted(&row.id), error = %untrusted(&error), "an offline event row does not decode; marking it failed");
            return Submitted::Undecodable;
        }
    };
    let key = DedupKey::offline(member_id, &row.event_name, &row.message_id);
    match inner.pipeline.submit(key, member_id.clone(), event).await {
        Ok(ticket) => Submitted::Ticket(ticket),
        Err(_closed) => Submitted::Closed,
    }
}

/// A fresh `process_id`: 32 random hex digits, as the portal makes its own.
fn new_process_id() -> String {
    use rand::Rng as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_ids_are_fresh_hex() {
        let first = super::new_process_id();
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(first, super::new_process_id());
    }
}
