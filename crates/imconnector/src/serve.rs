//! Serving a connector on the internet (feature `server`): [`serve`] runs a [`Router`] with
//! the timeouts and limits an endpoint facing the internet needs. Bare `axum::serve` leaves
//! them out: it builds hyper's connection without a timer, so hyper never arms its
//! header-read timeout, and a client that sends half a request (or a body one byte at a time)
//! holds its connection and task forever.
//!
//! | bound | default | what happens past it |
//! |---|---|---|
//! | [header read timeout](Serve::with_header_read_timeout) | [`DEFAULT_HEADER_READ_TIMEOUT`] | a connection that has not sent a whole request head in time (an idle keep-alive one too) is closed |
//! | [body read timeout](Serve::with_body_read_timeout) | [`DEFAULT_BODY_READ_TIMEOUT`] | reading a body that pauses longer fails: the SDK's routers answer 400, the connection is closed |
//! | [request timeout](Serve::with_request_timeout) | [`DEFAULT_REQUEST_TIMEOUT`] | a request not answered in time (its body read and its wait for a slot included) gets 408, the connection is closed |
//! | [concurrency limit](Serve::with_concurrency_limit) | [`DEFAULT_CONCURRENCY_LIMIT`] | further requests wait for a slot (Bitrix24 never resends an event, so none is refused), within the request timeout |
//! | [connection limit](Serve::with_connection_limit) | [`DEFAULT_CONNECTION_LIMIT`] | further connections wait in the listener's backlog |
//! | [graceful shutdown](Serve::with_graceful_shutdown) | none | no new connection is accepted, idle ones are closed, requests in flight get up to the [shutdown timeout](Serve::with_shutdown_timeout) to finish |
//!
//! A request head is at most 64 KiB (hyper's buffer limit; the portal's heads are well under
//! 8 KiB); the SDK's routers bound each body's size themselves. Only HTTP/1.1 is served:
//! Bitrix24 posts with it, and hyper's HTTP/2 preface detection would wait without a timeout.
//!
//! ```no_run
//! use std::time::Duration;
//! use imconnector::receiver::{EventHandler, EventReceiver, SingleToken};
//!
//! struct Connector;
//! impl EventHandler for Connector {}
//!
//! # async fn run() -> std::io::Result<()> {
//! let events = EventReceiver::new(SingleToken::new("application token"), Connector);
//! let app = axum::Router::new().nest("/bitrix/events", events.router());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! imconnector::serve(listener, app)
//!     .with_request_timeout(Duration::from_secs(20))
//!     .with_graceful_shutdown(async {
//!         let _ = tokio::signal::ctrl_c().await;
//!     })
//!     .await
//! # }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// How long a client may take to send a request head, counted from its connection or its
/// previous answer (hyper's own default, which bare `axum::serve` never arms, is 30 s; the
/// portal sends its head at once).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause while a request body is read.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take from its head to its answer. An install POST provisions the
/// connector with a dozen REST calls to the portal, so it is not short.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Requests handled at once.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 256;
/// Connections open at once (below the usual 1,024 file descriptors of a process with room
/// for its outgoing connections and files).
pub const DEFAULT_CONNECTION_LIMIT: usize = 768;
/// How long a graceful shutdown waits for requests in flight.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a connection buffers while it reads (hyper's default is about 400 KiB).
const MAX_READ_BUFFER: usize = 64 * 1024;

type ShutdownSignal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves `router` on `listener` with the default bounds; change them on the returned
/// [`Serve`], then `.await` it. See the [module docs](self).
pub fn serve(listener: TcpListener, router: Router) -> Serve {
    Serve {
        listener,
        router,
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        request_timeout: DEFAULT_REQUEST_TIMEOUT,
        concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
        connection_limit: DEFAULT_CONNECTION_LIMIT,
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        shutdown: None,
    }
}

/// A connector being served, made by [`serve`]: set its bounds, then `.await` it.
///
/// It runs until the graceful shutdown signal completes (forever without one). It fails
/// only before serving, on a bound set to zero: [`io::ErrorKind::InvalidInput`] naming it.
#[must_use = "a Serve does nothing until it is awaited"]
pub struct Serve {
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    request_timeout: Duration,
    concurrency_limit: usize,
    connection_limit: usize,
    shutdown_timeout: Duration,
    shutdown: Option<ShutdownSignal>,
}

impl Serve {
    /// Closes a connection that has not sent a whole request head within `timeout` of being
    /// accepted or of its previous answer (default [`DEFAULT_HEADER_READ_TIMEOUT`]).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Fails the reading of a request body that pauses longer than `timeout` (default
    /// [`DEFAULT_BODY_READ_TIMEOUT`]). A body that trickles in just fast enough is still cut
    /// by the [request timeout](Self::with_request_timeout).
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// Answers 408 to a request not answered within `timeout` of its head, the reading of its
    /// body and its wait for a slot included (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Handles at most `requests` requests at once; the others wait for a slot within the
    /// request timeout (default [`DEFAULT_CONCURRENCY_LIMIT`]).
    pub fn with_concurrency_limit(mut self, requests: usize) -> Self {
        self.concurrency_limit = requests;
        self
    }

    /// Keeps at most `connections` connections open; further ones wait in the listener's
    /// backlog until one closes (default [`DEFAULT_CONNECTION_LIMIT`]). Keep it below the
    /// process's file-descriptor limit (`ulimit -n`).
    pub fn with_connection_limit(mut self, connections: usize) -> Self {
        self.connection_limit = connections;
        self
    }

    /// Stops when `signal` completes: no new connection is accepted, idle ones are closed and
    /// requests in flight get up to the [shutdown timeout](Self::with_shutdown_timeout) to
    /// finish; then the `.await` returns.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// How long a graceful shutdown waits for requests in flight (default
    /// [`DEFAULT_SHUTDOWN_TIMEOUT`]); connections still open then are dropped.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The address served (useful after binding port 0).
    ///
    /// # Errors
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The first bound set to zero, by its setter's name.
    fn zero_bound(&self) -> Option<&'static str> {
        let durations = [
            ("with_header_read_timeout", self.header_read_timeout),
            ("with_body_read_timeout", self.body_read_timeout),
            ("with_request_timeout", self.request_timeout),
        ];
        let counts = [
            ("with_concurrency_limit", self.concurrency_limit),
            ("with_connection_limit", self.connection_limit),
        ];
        let zero_duration = durations.iter().find(|(_, bound)| bound.is_zero());
        let zero_count = counts.iter().find(|(_, bound)| *bound == 0);
        zero_duration
            .map(|(name, _)| *name)
            .or_else(|| zero_count.map(|(name, _)| *name))
    }

    async fn run(self) -> io::Result<()> {
        if let Some(name) = self.zero_bound() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("imconnector::serve: `{name}` must be greater than zero"),
            ));
        }
        // The limit is a layer of the router's routes: axum polls a route's readiness inside
        // the request's future, so the wait for a slot counts against the request timeout
        // (around the router, hyper would wait for readiness before the timeout starts).
        let router = self
            .router
            .layer(GlobalConcurrencyLimitLayer::new(self.concurrency_limit));
        let service = ServiceBuilder::new()
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                self.request_timeout,
            ))
            .layer(RequestBodyTimeoutLayer::new(self.body_read_timeout))
            .service(router);
        let service = TowerToHyperService::new(service);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_buf_size(MAX_READ_BUFFER);

        // Hand-written: hyper-util and tower bound requests, not connections, and a slow
        // client holds a connection (a file descriptor and a buffer) before it is a request.
        // A permit per accepted connection, returned when its task ends.
        let slots = Arc::new(Semaphore::new(self.connection_limit));
        let graceful = GracefulShutdown::new();
        // Owns the connection tasks, so those still running after the shutdown timeout are
        // aborted rather than left behind.
        let mut connections = JoinSet::new();
        let mut shutdown = self
            .shutdown
            .unwrap_or_else(|| Box::pin(std::future::pending()));
        loop {
            let slot = tokio::select! {
                slot = Arc::clone(&slots).acquire_owned() => slot,
                Some(_) = connections.join_next() => continue,
                () = &mut shutdown => break,
            };
            // Never fails: the semaphore is never closed.
            let Ok(slot) = slot else { break };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                Some(_) = connections.join_next() => continue,
                () = &mut shutdown => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    pause_after_accept_error(&error).await;
                    continue;
                }
            };
            // Answers are small and written at once: no point in Nagle's delay.
            let _ = stream.set_nodelay(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service.clone());
            let connection = graceful.watch(connection);
            connections.spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection closed with an error");
                }
                drop(slot);
            });
        }
        drop(self.listener);
        if tokio::time::timeout(self.shutdown_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout = ?self.shutdown_timeout,
                still_open = connections.len(),
                "graceful shutdown timed out; dropping the connections still open"
            );
        }
        connections.shutdown().await;
        Ok(())
    }
}

/// A failed `accept` of one connection (reset before it was taken) needs nothing; any other
/// error (out of file descriptors) would repeat at once, so the loop waits a moment.
async fn pause_after_accept_error(error: &io::Error) {
    let one_connection = matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    );
    if !one_connection {
        tracing::error!(%error, "accepting a connection failed; retrying in a second");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

impl IntoFuture for Serve {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl fmt::Debug for Serve {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("connection_limit", &self.connection_limit)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("graceful_shutdown", &self.shutdown.is_some())
            .finish_non_exhaustive()
    }
}
