//! A raw TCP server, for failures axum cannot produce: a reset after the request was read.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 server that reads each request in full and then answers with `action`
/// (given the path and the 1-based count of requests to that path), or resets the connection.
pub enum RawAction {
    Reset,
    Respond(String),
    /// Any status and content type, e.g. a proxy's HTML error page.
    Page {
        status: u16,
        content_type: &'static str,
        body: String,
    },
}

pub async fn raw_server(
    action: impl Fn(&str, usize) -> RawAction + Send + Sync + 'static,
) -> (SocketAddr, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let shared = counts.clone();
    let action = Arc::new(action);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counts = shared.clone();
            let action = action.clone();
            tokio::spawn(async move {
                while let Some(path) = read_request(&mut stream).await {
                    let count = {
                        let mut counts = counts.lock().expect("lock");
                        let count = counts.entry(path.clone()).or_insert(0);
                        *count += 1;
                        *count
                    };
                    match action(&path, count) {
                        RawAction::Reset => {
                            // RST instead of FIN: the request was read, the answer never comes.
                            let _ = stream.set_zero_linger();
                            return;
                        }
                        RawAction::Respond(body) => {
                            if !answer(&mut stream, 200, "application/json", &body).await {
                                return;
                            }
                        }
                        RawAction::Page {
                            status,
                            content_type,
                            body,
                        } => {
                            if !answer(&mut stream, status, content_type, &body).await {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, counts)
}

/// Writes one answer; false when the peer is gone.
async fn answer(
    stream: &mut tokio::net::TcpStream,
    status: u16,
    content_type: &str,
    body: &str,
) -> bool {
    let head = format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.is_ok()
        && stream.write_all(body.as_bytes()).await.is_ok()
}

/// Reads one request (head and `content-length` body); returns its path.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|value| value.trim().parse().ok())
        })
        .flatten()
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(path)
}
