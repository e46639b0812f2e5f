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

    /// The HTTP client the POSTs go out with (the install POST uses it directly).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
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

pub(crate) async fn post(http: &reqwest::Client, handler: &str, body: String) -> DeliveryOutcome {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::routing::post;
    use axum::Router;
    use tokio::sync::{mpsc, watch};

    use super::*;

    #[tokio::test]
    async fn at_most_the_limit_of_posts_is_in_flight() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let (arrived, mut arrivals) = mpsc::unbounded_channel::<()>();
        let handler = {
            let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
            move || {
                let (in_flight, most) = (Arc::clone(&in_flight), Arc::clone(&most));
                let (mut released, arrived) = (released.clone(), arrived.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let _ = arrived.send(());
                    let _ = released.wait_for(|released| *released).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    "ok"
                }
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/events", listener.local_addr().expect("address"));
        let app = Router::new().route("/events", post(handler));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let courier = Courier::new(http, tokio::runtime::Handle::current());
        let total = MAX_CONCURRENT_POSTS + 20;
        let (done, mut finished) = mpsc::unbounded_channel::<DeliveryOutcome>();
        for seq in 0..total as u64 {
            let event = Outgoing {
                seq,
                handler: url.clone(),
                body: String::new(),
            };
            let done = done.clone();
            courier.send(event, move |_, outcome| {
                let _ = done.send(outcome);
            });
        }
        for _ in 0..MAX_CONCURRENT_POSTS {
            arrivals.recv().await.expect("a POST arrives");
        }
        // Every slot is taken and the handler holds them all: the rest wait for a slot.
        assert_eq!(courier.slots.available_permits(), 0);
        release.send_replace(true);
        for _ in 0..total {
            let outcome = finished.recv().await.expect("each POST finishes");
            assert_eq!(outcome, DeliveryOutcome::Delivered { status: 200 });
        }
        assert!(most.load(Ordering::SeqCst) <= MAX_CONCURRENT_POSTS);
    }
}
