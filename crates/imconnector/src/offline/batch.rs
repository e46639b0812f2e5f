//! One batch of one portal's queue: reserve, keep the `process_id`, handle, clear or mark failed.

use std::sync::Arc;

use imconnector_api::methods::{ClearOfflineEvents, GetOfflineEvents, MarkOfflineEventsFailed};
use imconnector_api::types::OfflineEventRow;
use imconnector_transport::{MemberId, OfflineCursorStore};

use super::handle::handle_event;
use super::{Inner, OfflineError, PollReport, PortalEntry};
use crate::log_text::untrusted;
use crate::receiver::EventHandler;

/// Reads up to one batch of rows (the failed ones when `failed`), handles them in queue order
/// and settles each: cleared when handled, marked failed otherwise.
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
        failed: Vec::new(),
    };
    for row in answer.events {
        let message_id = row.message_id.clone();
        if handle_row(inner, member_id, portal, row).await {
            report.handled.push(message_id);
        } else {
            report.failed.push(message_id);
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

/// Decodes and handles one row on a task of its own, so a panicking handler fails the row
/// instead of the poller; bounded by the handler timeout. `true` when it was handled.
async fn handle_row<H: EventHandler, S: OfflineCursorStore>(
    inner: &Arc<Inner<H, S>>,
    member_id: &MemberId,
    portal: &PortalEntry,
    row: OfflineEventRow,
) -> bool {
    let event = match row.to_event(member_id, &portal.domain) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(member_id = %untrusted(member_id), row = %untrusted(&row.id), error = %untrusted(&error), "an offline event row does not decode; marking it failed");
            return false;
        }
    };
    let task = {
        let inner = Arc::clone(inner);
        let client = portal.client.clone();
        tokio::spawn(async move {
            let confirm = inner.settings.confirm_deliveries;
            handle_event(&inner.handler, &client, event, confirm).await
        })
    };
    let abort = task.abort_handle();
    let outcome = tokio::time::timeout(inner.settings.handler_timeout, task).await;
    let failure = match outcome {
        Ok(Ok(Ok(()))) => return true,
        Ok(Ok(Err(error))) => format!("the handler failed: {}", untrusted(&error)),
        Ok(Err(join)) if join.is_panic() => "the handler panicked".to_owned(),
        Ok(Err(_)) => "the handler task was cancelled".to_owned(),
        Err(_) => {
            abort.abort();
            format!(
                "the handler took longer than {:?}",
                inner.settings.handler_timeout
            )
        }
    };
    tracing::warn!(member_id = %untrusted(member_id), event = %untrusted(&row.event_name), message_id = %untrusted(&row.message_id), %failure, "an offline event was not handled; marking it failed");
    false
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
