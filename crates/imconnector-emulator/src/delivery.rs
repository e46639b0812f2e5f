//! The courier of event POSTs: takes the bodies queued under the lock and POSTs them from
//! spawned tasks, at most [`MAX_CONCURRENT_POSTS`] at a time, reporting each outcome back.
//!
//! It knows nothing of the portal's state (it sits below `state` in the module order); the
//! caller says how an outcome is recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::snapshot::DeliveryOutcome;

/// How long a handler may take before the POST counts as failed (real time).
pub(crate) const HANDLER_TIMEOUT: Duration = Duration::from_secs(10);

/// How many event POSTs may be in flight at once; the others wait for a slot.
pub(crate) const MAX_CONCURRENT_POSTS: usize = 64;

/// A POST waiting for the lock to be released.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// `seq` of its entry in the portal's event log.
    pub(crate) seq: u64,
    pub(crate) handler: String,
    pub(crate) body: String,
}

/// POSTs events with a bounded number in flight.
#[derive(Debug)]
pub(crate) struct Courier {
    http: reqwest::Client,
    /// Where POSTs are spawned (control calls may come from outside the runtime).
    runtime: tokio::runtime::Handle,
    slots: Arc<Semaphore>,
}

impl Courier {
    pub(crate) fn new(http: reqwest::Client, runtime: tokio::runtime::Handle) -> Self {
        Self {
            http,
            runtime,
            slots: Arc::new(Semaphore::new(MAX_CONCURRENT_POSTS)),
        }
    }

    /// POSTs `event` from a spawned task once a slot is free, then calls `record` with the
    /// event's `seq` and what happened.
    pub(crate) fn send(
        &self,
        event: Outgoing,
        record: impl FnOnce(u64, DeliveryOutcome) + Send + 'static,
    ) {
        let http = self.http.clone();
        let slots = Arc::clone(&self.slots);
        self.runtime.spawn(async move {
            // The semaphore is never closed; without a permit the POST still goes out.
            let _permit = slots.acquire_owned().await.ok();
            let outcome = post(&http, &event.handler, event.body).await;
            record(event.seq, outcome);
        });
    }
}

async fn post(http: &reqwest::Client, handler: &str, body: String) -> DeliveryOutcome {
    let request = http
        .post(handler)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .timeout(HANDLER_TIMEOUT);
    match request.send().await {
        Ok(response) if response.status().is_success() => DeliveryOutcome::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => DeliveryOutcome::Failed {
            status: Some(response.status().as_u16()),
            reason: format!("handler answered {}", response.status()),
        },
        Err(error) => DeliveryOutcome::Failed {
            status: None,
            // The URL is the handler's (no secret); reqwest errors never include the body.
            reason: error.to_string(),
        },
    }
}
