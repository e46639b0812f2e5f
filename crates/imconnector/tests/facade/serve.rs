//! `imconnector::serve`: the bounds that bare `axum::serve` leaves out (issue 20, item 3).
//!
//! Each test fails against bare `axum::serve` (checked by serving the same router with it):
//! without a timer hyper never arms its header-read timeout, and nothing times out a body or a
//! request or limits requests or connections, so the half-open connections and the slow bodies
//! below are never closed (the test gives up after [`PATIENCE`]) and the third request and the
//! second connection are served at once. The bounds are set to a second or two; every wait is
//! [`PATIENCE`] long and ends as soon as the awaited thing happens, so a loaded machine only
//! makes the tests slower. "Still waiting" checks give the server a second to misbehave: on a
//! loaded machine they may miss a defect, never fail a correct server.

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use imconnector::receiver::{EventReceiver, SingleToken};
use imconnector::Serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::support::{recorder, PATIENCE};

/// The bounds under test, short so the tests are quick.
const SHORT: Duration = Duration::from_secs(1);
/// How long a "still waiting" check gives the server to misbehave.
const MISBEHAVE: Duration = Duration::from_secs(1);

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind")
}

/// Runs `serve` on a task; returns its address and the task.
fn start(serve: Serve) -> (SocketAddr, JoinHandle<io::Result<()>>) {
    let address = serve.local_addr().expect("address");
    (address, tokio::spawn(serve.into_future()))
}

/// The event receiver, as a connector serves it.
fn receiver_router() -> axum::Router {
    let (handler, _seen) = recorder();
    let receiver = EventReceiver::new(SingleToken::new("application token"), handler);
    axum::Router::new().nest("/events", receiver.router())
}

/// Reads until the server closes the connection (end of stream or reset); returns what it
/// sent, or `None` if it was still open after [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0_u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(count) => received.extend_from_slice(&buffer[..count]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.ok()?;
    Some(received)
}

/// The status line of an answer, e.g. `HTTP/1.1 408 Request Timeout`.
fn status_line(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    text.lines().next().unwrap_or_default().to_owned()
}

/// This process's resident memory, in KiB (Linux).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A request head cut off before its blank line: the server waits for the rest.
const HALF_A_HEAD: &[u8] = b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n";

/// 1,000 clients each send half a request head and then nothing (slowloris): every connection
/// is closed by the server (after the 1 s header-read timeout) and the server's memory stays
/// bounded meanwhile. Client and server hold 2,000 sockets between them, so the soft limit on
/// open files is raised first (up to the hard limit; the test says so if that is too low).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_half_open_connections_are_all_closed_by_the_header_timeout() {
    const CONNECTIONS: usize = 1_000;
    let open_files = rlimit::increase_nofile_limit(4 * CONNECTIONS as u64).expect("rlimit");
    assert!(
        open_files >= 3 * CONNECTIONS as u64,
        "this test needs {} open files; the hard limit allows {open_files}",
        3 * CONNECTIONS
    );
    let serve = imconnector::serve(listener().await, receiver_router())
        .with_header_read_timeout(SHORT)
        .with_connection_limit(2 * CONNECTIONS);
    let (address, _server) = start(serve);
    let memory_before = resident_kib();

    let mut clients = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        // A write refused because the server already closed the connection is what we want.
        let _ = stream.write_all(HALF_A_HEAD).await;
        clients.push(stream);
    }
    let memory_held = resident_kib();
    let waits: Vec<_> = clients
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move { read_until_closed(&mut stream).await.is_some() })
        })
        .collect();
    let mut still_open = 0;
    for wait in waits {
        if !wait.await.expect("reader") {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "connections the server left open");

    if let (Some(before), Some(held)) = (memory_before, memory_held) {
        let grown = held.saturating_sub(before);
        eprintln!("resident memory: {before} KiB, {held} KiB with {CONNECTIONS} half-open connections (+{grown} KiB)");
        // A connection costs a task and an 8 KiB read buffer (64 KiB at most): far below this.
        assert!(
            grown < 128 * 1024,
            "{grown} KiB for {CONNECTIONS} half-open connections"
        );
    }
}

/// A connection kept alive after its answer and then silent is closed by the header timeout.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let router = axum::Router::new().route("/", get(|| async { "OK" }));
    let serve = imconnector::serve(listener().await, router).with_header_read_timeout(SHORT);
    let (address, _server) = start(serve);
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");

    let answer = read_until_closed(&mut stream)
        .await
        .expect("the idle connection is closed");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
}

/// A body that stops halfway is cut by the body-read timeout: the receiver answers 400 and
/// the connection is closed.
#[tokio::test]
async fn a_body_that_stops_is_cut_by_the_body_read_timeout() {
    let serve = imconnector::serve(listener().await, receiver_router())
        .with_body_read_timeout(SHORT)
        .with_request_timeout(PATIENCE);
    let (address, _server) = start(serve);
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nevent=ONIM")
        .await
        .expect("head and the start of the body");

    let answer = read_until_closed(&mut stream)
        .await
        .expect("the connection is closed");
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request");
}

/// A body trickling in a byte at a time, never pausing long enough for the body-read
/// timeout, is cut by the request timeout: 408 and the connection is closed.
#[tokio::test]
async fn a_trickling_body_is_cut_by_the_request_timeout() {
    let serve = imconnector::serve(listener().await, receiver_router())
        .with_request_timeout(2 * SHORT)
        .with_body_read_timeout(PATIENCE);
    let (address, _server) = start(serve);
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
        .await
        .expect("head");
    let trickle = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut answer)).await;
    trickle.abort();
    assert!(read.is_ok(), "the trickling request was never cut");
    assert_eq!(status_line(&answer), "HTTP/1.1 408 Request Timeout");
}

/// Counts the requests inside a handler and holds each until the test lets it go.
struct Gate {
    entered: AtomicUsize,
    inside: AtomicUsize,
    most_inside: AtomicUsize,
    release: Semaphore,
}

impl Gate {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            entered: AtomicUsize::new(0),
            inside: AtomicUsize::new(0),
            most_inside: AtomicUsize::new(0),
            release: Semaphore::new(0),
        })
    }

    async fn pass(&self) -> &'static str {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let inside = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_inside.fetch_max(inside, Ordering::SeqCst);
        self.release.acquire().await.expect("open").forget();
        self.inside.fetch_sub(1, Ordering::SeqCst);
        "OK"
    }

    async fn wait_entered(&self, count: usize) {
        let entered = async {
            while self.entered.load(Ordering::SeqCst) < count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(PATIENCE, entered)
            .await
            .unwrap_or_else(|_| panic!("{count} requests never reached the handler"));
    }

    fn router(self: &Arc<Self>) -> axum::Router {
        let gate = Arc::clone(self);
        axum::Router::new().route(
            "/",
            post(move || {
                let gate = Arc::clone(&gate);
                async move { gate.pass().await }
            }),
        )
    }
}

async fn post_to(address: SocketAddr) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("http://{address}/"))
        .send()
        .await
        .expect("answer");
    response.status()
}

/// With a limit of 2, the third request waits until one of the first two is answered; then
/// it is served (none is refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_concurrency_limit_wait_for_a_slot() {
    let gate = Gate::new();
    let serve = imconnector::serve(listener().await, gate.router())
        .with_concurrency_limit(2)
        .with_request_timeout(PATIENCE);
    let (address, _server) = start(serve);

    let requests: Vec<_> = (0..3).map(|_| tokio::spawn(post_to(address))).collect();
    gate.wait_entered(2).await;
    tokio::time::sleep(MISBEHAVE).await;
    assert_eq!(
        gate.entered.load(Ordering::SeqCst),
        2,
        "the third did not wait"
    );

    gate.release.add_permits(1);
    gate.wait_entered(3).await;
    gate.release.add_permits(2);
    for request in requests {
        assert_eq!(request.await.expect("request"), reqwest::StatusCode::OK);
    }
    assert_eq!(gate.most_inside.load(Ordering::SeqCst), 2);
}

/// With a limit of one connection, a second client is not served while a silent first one
/// holds the connection; it is served once the first goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_connection_limit_wait() {
    let gate = Gate::new();
    gate.release.add_permits(1);
    let serve = imconnector::serve(listener().await, gate.router())
        .with_connection_limit(1)
        .with_header_read_timeout(PATIENCE);
    let (address, _server) = start(serve);
    // Connections are accepted in the order they were made: the silent one is held.
    let silent = TcpStream::connect(address).await.expect("connect");

    let second = tokio::spawn(post_to(address));
    tokio::time::sleep(MISBEHAVE).await;
    assert_eq!(
        gate.entered.load(Ordering::SeqCst),
        0,
        "served past the limit"
    );
    assert!(!second.is_finished());

    drop(silent);
    let status = tokio::time::timeout(PATIENCE, second)
        .await
        .expect("served after the first left")
        .expect("request");
    assert_eq!(status, reqwest::StatusCode::OK);
}

/// On the shutdown signal the server stops accepting, lets the request in flight finish
/// and answer, and then returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_the_request_in_flight_finish() {
    let gate = Gate::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = imconnector::serve(listener().await, gate.router())
        .with_shutdown_timeout(PATIENCE)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    let (address, server) = start(serve);
    let in_flight = tokio::spawn(post_to(address));
    gate.wait_entered(1).await;

    stop.send(()).expect("server running");
    let refused = async {
        while TcpStream::connect(address).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(PATIENCE, refused)
        .await
        .expect("new connections are refused after the signal");
    assert!(!server.is_finished(), "returned with a request in flight");

    gate.release.add_permits(1);
    let status = in_flight.await.expect("request");
    assert_eq!(status, reqwest::StatusCode::OK);
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("returns once the request is answered")
        .expect("task")
        .expect("served");
}

/// A request that never finishes does not hold a shutdown past the shutdown timeout: the
/// server returns and its connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_gives_up_after_its_timeout() {
    let gate = Gate::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = imconnector::serve(listener().await, gate.router())
        .with_request_timeout(PATIENCE)
        .with_shutdown_timeout(SHORT)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    let (address, server) = start(serve);
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("request");
    gate.wait_entered(1).await;

    stop.send(()).expect("server running");
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("returns after the shutdown timeout")
        .expect("task")
        .expect("served");
    let answer = read_until_closed(&mut stream)
        .await
        .expect("the connection is closed");
    assert!(answer.is_empty(), "never answered: {answer:?}");
}

/// A bound of zero would serve nothing: refused before serving, naming the setter.
#[tokio::test]
async fn a_zero_bound_is_refused_by_name() {
    let router = axum::Router::new();
    let refused = imconnector::serve(listener().await, router)
        .with_concurrency_limit(0)
        .await
        .expect_err("zero is refused");
    assert_eq!(refused.kind(), io::ErrorKind::InvalidInput);
    assert!(
        refused.to_string().contains("with_concurrency_limit"),
        "{refused}"
    );
}
