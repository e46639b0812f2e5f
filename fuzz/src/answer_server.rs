//! A local HTTP server that answers whatever status and body it is told, and the runtime the
//! clients of the targets call it from (127.0.0.1, port 0: no test reaches the internet).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Router;

type Answer = Arc<Mutex<(u16, Bytes)>>;

/// The server and its runtime.
pub struct AnswerServer {
    /// The runtime the server runs on; call clients with its `block_on`.
    pub runtime: tokio::runtime::Runtime,
    /// Where it listens.
    pub address: SocketAddr,
    answer: Answer,
}

async fn respond(State(answer): State<Answer>) -> (StatusCode, Bytes) {
    let (status, body) = answer
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

impl AnswerServer {
    /// Starts the server on 127.0.0.1.
    ///
    /// # Errors
    /// When the runtime or the listener cannot be made.
    pub fn start() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let answer: Answer = Arc::new(Mutex::new((200, Bytes::new())));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?;
        let router = Router::new()
            .fallback(respond)
            .with_state(Arc::clone(&answer));
        runtime.spawn(async move { axum::serve(listener, router).await });
        Ok(Self {
            runtime,
            address,
            answer,
        })
    }

    /// Answers every request from now on with `status` and `body`.
    pub fn answer(&self, status: u16, body: &[u8]) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) =
            (status, Bytes::copy_from_slice(body));
    }
}

/// The status a fuzz input's first byte picks, and the rest as the body.
pub fn status_and_body(data: &[u8]) -> (u16, &[u8]) {
    const STATUSES: [u16; 8] = [200, 400, 401, 403, 404, 500, 502, 503];
    match data.split_first() {
        Some((first, rest)) => (STATUSES[usize::from(*first) % STATUSES.len()], rest),
        None => (200, data),
    }
}
