//! Throughput of the emulator: `imconnector.status` over loopback, limits off.
//!
//! ```text
//! cargo run --release -p imconnector-emulator --example bench_status -- [SECONDS] [CONCURRENCY,...]
//! ```
//!
//! Defaults: 10 seconds per row, concurrency 1, 8 and 32. Client and server share one process
//! (and the machine's cores), so the figure is a floor for a dedicated server.

use std::time::{Duration, Instant};

use imconnector_emulator::{Emulator, ExposeSecret};
use serde_json::json;

struct Row {
    concurrency: usize,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn run(url: &str, token: &str, concurrency: usize, seconds: u64) -> Row {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let body = json!({"CONNECTOR": "bench", "LINE": 1, "auth": token}).to_string();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match response {
                        Ok(response) if response.status().is_success() => {
                            // Read the whole answer: a client would.
                            if response.bytes().await.is_err() {
                                errors += 1;
                            }
                            latencies.push(sent.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (mut worker_latencies, worker_errors) = worker.await.expect("worker");
        latencies.append(&mut worker_latencies);
        errors += worker_errors;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |share: f64| {
        let index = ((latencies.len() as f64 - 1.0) * share).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    Row {
        concurrency,
        requests: latencies.len() as u64,
        errors,
        elapsed,
        p50: percentile(0.5),
        p99: percentile(0.99),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|text| text.parse().ok()).unwrap_or(10);
    let levels: Vec<usize> = args
        .next()
        .map(|text| {
            text.split(',')
                .filter_map(|level| level.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1, 8, 32]);

    let emulator = Emulator::builder().start().await.expect("emulator starts");
    let token = emulator.tokens().access_token.expose_secret().to_owned();
    let url = format!("{}imconnector.status", emulator.rest_url());
    // Warm-up: connections, allocator, a registered and active connector.
    let _ = run(&url, &token, 8, 1).await;

    println!("imconnector.status over loopback, limits off, {seconds} s per row");
    println!();
    println!("| concurrency | requests | errors | requests/s | p50 ms | p99 ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for concurrency in levels {
        let row = run(&url, &token, concurrency, seconds).await;
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} |",
            row.concurrency,
            row.requests,
            row.errors,
            row.requests as f64 / row.elapsed.as_secs_f64(),
            row.p50.as_secs_f64() * 1000.0,
            row.p99.as_secs_f64() * 1000.0,
        );
    }
    let counters = emulator.counters();
    println!();
    println!(
        "server counted {} imconnector.status calls",
        counters
            .requests
            .get("imconnector.status")
            .copied()
            .unwrap_or(0)
    );
    emulator.shutdown().await;
}
