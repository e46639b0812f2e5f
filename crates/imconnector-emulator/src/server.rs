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
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower::Service;

/// How long a graceful shutdown waits for in-flight requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Resets the connection a request arrived on.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    pub(crate) fn trigger(&self) {
        // notify_one stores a permit, so a trigger before the connection task waits is kept.
        self.0.notify_one();
    }

    async fn triggered(&self) {
        self.0.notified().await;
    }
}

/// Whether a request arrived over TLS (an extension of every request served by [`serve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Secure(pub(crate) bool);

/// The TLS side of the listener, when HTTPS is on.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// Without the `tls` feature there is never one.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum Acceptor {}

/// The first byte of a TLS handshake record: how a connection on the shared port says it
/// speaks TLS rather than plain HTTP.
#[cfg(feature = "tls")]
const TLS_HANDSHAKE: u8 = 0x16;

/// How long a connection may take to send its first byte and finish a TLS handshake (hyper's
/// own header-read timeout only starts after that).
#[cfg(feature = "tls")]
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Accepts connections until `shutdown` flips to true, then drains in-flight requests. With
/// an acceptor, each connection is TLS or plain HTTP as its first byte says.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Acceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    serve_connection(stream, router.clone(), tls.clone(), &graceful);
                }
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

fn serve_connection(
    stream: TcpStream,
    router: Router,
    tls: Option<Acceptor>,
    graceful: &GracefulShutdown,
) {
    let _ = stream.set_nodelay(true);
    let (stream, twin) = match split_twin(stream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "could not prepare connection");
            return;
        }
    };
    let watcher = graceful.watcher();
    tokio::spawn(async move {
        let kill = ConnectionKill::default();
        let served = async {
            #[cfg(feature = "tls")]
            if let Some(acceptor) = tls {
                let mut first = [0_u8; 1];
                let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await;
                match peeked {
                    Ok(Ok(1)) if first[0] == TLS_HANDSHAKE => {}
                    Ok(Ok(1)) => {
                        let service = service(router, kill.clone(), Secure(false));
                        return drive(stream, service, watcher).await;
                    }
                    _ => return,
                }
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let service = service(router, kill.clone(), Secure(true));
                        drive(stream, service, watcher).await;
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                }
                return;
            }
            #[cfg(not(feature = "tls"))]
            let _: Option<Acceptor> = tls;
            drive(
                stream,
                service(router, kill.clone(), Secure(false)),
                watcher,
            )
            .await;
        };
        tokio::select! {
            () = served => {}
            () = kill.triggered() => {
                // The hyper connection (and its socket) is dropped when this branch wins; the
                // twin keeps the socket open until linger is set, so the final close is a reset.
                let _ = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO));
            }
        }
        drop(twin);
    });
}

/// The router as a hyper service that tags each request with its connection's kill switch
/// and transport.
fn service(
    router: Router,
    kill: ConnectionKill,
    secure: Secure,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(kill.clone());
        request.extensions_mut().insert(secure);
        router.clone().call(request)
    })
}

/// Serves HTTP/1.1 on `io` until the peer closes or a graceful shutdown finishes it.
async fn drive<I, S>(io: I, service: S, watcher: Watcher)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = axum::body::Body> + Send + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // With a timer hyper enforces its 30 s header-read timeout, so a stalled client cannot
    // hold a connection task forever.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// The tokio stream plus a duplicate descriptor of the same socket (for setting linger later).
fn split_twin(stream: TcpStream) -> std::io::Result<(TcpStream, StdTcpStream)> {
    let std_stream = stream.into_std()?;
    let twin = std_stream.try_clone()?;
    std_stream.set_nonblocking(true)?;
    Ok((TcpStream::from_std(std_stream)?, twin))
}
