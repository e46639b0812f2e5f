//! The accept loop. Connections are served with hyper directly (not `axum::serve`) so that a
//! fault can reset one: each connection gets a kill switch in its requests' extensions, and a
//! duplicate of its socket on which `SO_LINGER = 0` is set before closing, so the peer sees a
//! real RST rather than a tidy FIN.

use std::net::TcpStream as StdTcpStream;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::Service;

use crate::envelope::html_500;
use crate::faults::FaultAction;
use crate::state::Shared;

/// How long a graceful shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resets the connection a request arrived on.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    fn trigger(&self) {
        // notify_one stores a permit, so a trigger before the connection task waits is kept.
        self.0.notify_one();
    }

    async fn triggered(&self) {
        self.0.notified().await;
    }
}

/// Resets the connection and never answers. Without a kill switch (a router used outside
/// [`serve`]) it falls back to a 500.
pub(crate) async fn reset_connection(kill: Option<&ConnectionKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.trigger();
            std::future::pending::<()>().await;
            html_500()
        }
        None => html_500(),
    }
}

/// Draws and applies the faults of one request: latency, then 500 or a reset before
/// processing. `Ok` carries the action still to apply after processing.
pub(crate) async fn apply_faults(
    shared: &Shared,
    kill: Option<&ConnectionKill>,
) -> Result<FaultAction, Response> {
    let decision = {
        let mut portal = shared.lock();
        let decision = portal.faults.decide();
        let counters = &mut portal.counters.faults;
        if decision.latency.is_some() {
            counters.delayed += 1;
        }
        match decision.action {
            FaultAction::Error500 => counters.error_500 += 1,
            FaultAction::DropBefore => counters.dropped_before += 1,
            FaultAction::DropAfter => counters.dropped_after += 1,
            FaultAction::None => {}
        }
        decision
    };
    if let Some(latency) = decision.latency {
        tokio::time::sleep(shared.clock.real_duration(latency)).await;
    }
    match decision.action {
        FaultAction::Error500 => Err(html_500()),
        FaultAction::DropBefore => Err(reset_connection(kill).await),
        action => Ok(action),
    }
}

/// Accepts connections until `shutdown` flips to true, then drains in-flight requests.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => serve_connection(stream, router.clone(), &graceful),
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: in-flight requests did not finish in time");
    }
}

fn serve_connection(stream: TcpStream, router: Router, graceful: &GracefulShutdown) {
    let _ = stream.set_nodelay(true);
    let (stream, twin) = match split_twin(stream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "could not prepare connection");
            return;
        }
    };
    let kill = ConnectionKill::default();
    let kill_for_requests = kill.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(kill_for_requests.clone());
        router.clone().call(request)
    });
    // With a timer hyper enforces its 30 s header-read timeout, so a stalled client cannot
    // hold a connection task forever.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        tokio::select! {
            result = connection => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
            () = kill.triggered() => {
                // The hyper connection (and its socket) is dropped when this branch wins; the
                // twin keeps the socket open until linger is set, so the final close is a reset.
                let _ = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO));
            }
        }
        drop(twin);
    });
}

/// The tokio stream plus a duplicate descriptor of the same socket (for setting linger later).
fn split_twin(stream: TcpStream) -> std::io::Result<(TcpStream, StdTcpStream)> {
    let std_stream = stream.into_std()?;
    let twin = std_stream.try_clone()?;
    std_stream.set_nonblocking(true)?;
    Ok((TcpStream::from_std(std_stream)?, twin))
}
