//! `cargo run --release -p imconnector-bench -- [--quick]`: every benchmark of BENCHMARKS.md,
//! printed as markdown tables.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use imconnector_bench::portal::SetupError;
use imconnector_bench::report::{machine, number, Table};
use imconnector_bench::{
    emulator_rps, inbox, intake, memory, offline, outbox, overhead, redis_outage, scale, throughput,
};

/// Benchmarks of imconnector-rs against its emulator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Small sizes, about a minute in all (CI smoke); the figures are noisier.
    #[arg(long)]
    quick: bool,
    /// Run only these sections (overhead, throughput, outbox, offline, intake, emulator, memory,
    /// scale, redis, inbox; redis and inbox run only with IMCONNECTOR_REDIS_URL set, and then
    /// also by default; so do outbox's Redis rows).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Internal: only this client's calls (`sdk`, `floor`, `floor-like-sdk` or `floor-timer`),
    /// for a profiler; see BENCHMARKS.md.
    #[arg(long = "profile-overhead", hide = true)]
    profile_overhead: Option<String>,
    /// With `--profile-overhead`: how many calls.
    #[arg(long, hide = true, default_value_t = 2_000)]
    calls: u64,
    /// With `--profile-overhead`: how many calls in flight at once.
    #[arg(long = "in-flight", hide = true, default_value_t = 16)]
    in_flight: u64,
    /// With `--profile-overhead`: poll every call at every wake-up (`join_all`), not each at
    /// its own (as tasks).
    #[arg(long, hide = true)]
    joined: bool,
    /// Internal: the child process of the memory benchmark.
    #[arg(long = "memory-probe", hide = true)]
    memory_probe: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = if cli.memory_probe {
        memory::probe()
    } else if let Some(client) = &cli.profile_overhead {
        let driving = if cli.joined {
            overhead::Driving::Joined
        } else {
            overhead::Driving::AsTasks
        };
        let profile = |client| overhead::profile(client, cli.calls, cli.in_flight, driving);
        match client.as_str() {
            "sdk" => profile(overhead::Profiled::Sdk),
            "floor" => profile(overhead::Profiled::Floor),
            "floor-like-sdk" => profile(overhead::Profiled::FloorLikeSdk),
            "floor-timer" => profile(overhead::Profiled::FloorWithTimer),
            other => Err(format!(
                "--profile-overhead: `{other}` is not sdk, floor, floor-like-sdk or floor-timer"
            )
            .into()),
        }
    } else {
        run(&cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("benchmark failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn wanted(cli: &Cli, section: &str) -> bool {
    cli.only.is_empty() || cli.only.iter().any(|only| only == section)
}

fn run(cli: &Cli) -> Result<(), SetupError> {
    let started = Instant::now();
    println!(
        "# imconnector-rs benchmarks{}\n",
        if cli.quick { " (--quick)" } else { "" }
    );
    println!("Machine: {}.\n", machine());
    if wanted(cli, "overhead") {
        overhead_section(cli.quick)?;
    }
    if wanted(cli, "throughput") {
        throughput_section(cli.quick)?;
    }
    if wanted(cli, "outbox") {
        outbox_section(cli.quick)?;
    }
    if wanted(cli, "offline") {
        offline_section(cli.quick)?;
    }
    if wanted(cli, "intake") {
        intake_section(cli.quick)?;
    }
    if wanted(cli, "emulator") {
        emulator_section(cli.quick)?;
    }
    if wanted(cli, "memory") {
        memory_section()?;
    }
    if wanted(cli, "scale") {
        scale_section(cli.quick)?;
    }
    // Not in the default run without Redis; asked for by name, it says why it is skipped.
    if wanted(cli, "redis") && (redis_outage::wanted() || !cli.only.is_empty()) {
        redis_section(cli.quick)?;
    }
    if wanted(cli, "inbox") && (inbox::wanted() || !cli.only.is_empty()) {
        inbox_section(cli.quick)?;
    }
    println!("Total time: {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

fn overhead_section(quick: bool) -> Result<(), SetupError> {
    let (calls_per_round, rounds, warmup) = if quick {
        (192, 5, 96)
    } else {
        // Thirty alternating rounds: fewer let one noisy second swing a ratio by 0.1.
        (1_008, 30, 496)
    };
    let plan = |in_flight, driving| overhead::Plan {
        calls_per_round,
        rounds,
        warmup,
        in_flight,
        driving,
    };
    let sequential = overhead::run(plan(1, overhead::Driving::AsTasks))?;
    let concurrent = overhead::run(plan(16, overhead::Driving::AsTasks))?;
    let joined = overhead::run(plan(16, overhead::Driving::Joined))?;
    println!("## Overhead: `imconnector.status`, limits off\n");
    println!("### One call at a time\n");
    println!("{}", overhead_table(&sequential).render());
    println!("### 16 calls in flight, each polled when it wakes (as tasks)\n");
    println!("{}", overhead_table(&concurrent).render());
    println!(
        "### 16 calls in flight, all polled at every wake-up (`join_all`: each call is polled \
         about 14 times for nothing)\n"
    );
    println!("{}", overhead_table(&joined).render());
    println!("### Against the targets (SDK / floor)\n");
    println!(
        "Measured: the median over the rounds of each round's SDK / floor (they run one right \
         after the other in each round), which a round the machine disturbed does not move; \
         beside it the ratio of the totals of the tables above.\n"
    );
    let mut targets = Table::new(&["figure", "measured", "ratio of totals", "target", "met"]);
    let mut target = |figure: &str, figures: &overhead::Figures, cpu: bool| {
        let (measured, totals, bound, met) = if cpu {
            let measured = figures.median_cpu_ratio();
            let totals = figures.sdk_cpu_micros() / figures.floor_cpu_micros();
            (measured, totals, "≤ 1.05", measured <= 1.05)
        } else {
            let measured = figures.median_rate_ratio();
            let totals = figures.sdk_rate() / figures.floor_rate();
            (measured, totals, "≥ 0.95", measured >= 0.95)
        };
        targets.row(vec![
            figure.to_owned(),
            format!("{measured:.3}"),
            format!("{totals:.3}"),
            bound.to_owned(),
            if met { "yes" } else { "no" }.to_owned(),
        ]);
    };
    target("calls/s, one at a time", &sequential, false);
    target("calls/s, 16 in flight", &concurrent, false);
    target("CPU per call, one at a time", &sequential, true);
    target("CPU per call, 16 in flight", &concurrent, true);
    target("calls/s, 16 in flight, joined", &joined, false);
    target("CPU per call, 16 in flight, joined", &joined, true);
    println!("{}", targets.render());
    println!(
        "One call's future: {} bytes through the SDK, {} bytes for the floor with the SDK's HTTP \
         settings (each call in flight keeps one).\n",
        concurrent.sdk_future_bytes, concurrent.floor_future_bytes
    );
    Ok(())
}

fn overhead_table(figures: &overhead::Figures) -> Table {
    let mut table = Table::new(&["client", "calls", "calls/s", "CPU µs/call (client thread)"]);
    table.row(vec![
        "SDK (`Client::call(&GetConnectorStatus)`)".to_owned(),
        number(figures.calls as f64, 0),
        number(figures.sdk_rate(), 0),
        number(figures.sdk_cpu_micros(), 1),
    ]);
    table.row(vec![
        "floor (reqwest + serde_json)".to_owned(),
        number(figures.calls as f64, 0),
        number(figures.floor_rate(), 0),
        number(figures.floor_cpu_micros(), 1),
    ]);
    table.row(vec![
        "floor with the SDK's HTTP settings (timeouts, headers)".to_owned(),
        number(figures.calls as f64, 0),
        number(figures.floor_like_sdk_rate(), 0),
        number(figures.floor_like_sdk_cpu_micros(), 1),
    ]);
    table.row(vec![
        "**SDK / floor**".to_owned(),
        String::new(),
        format!("{:.2}", figures.sdk_rate() / figures.floor_rate()),
        format!(
            "{:.2}",
            figures.sdk_cpu_micros() / figures.floor_cpu_micros()
        ),
    ]);
    table.row(vec![
        "SDK / floor with the SDK's HTTP settings".to_owned(),
        String::new(),
        format!("{:.2}", figures.sdk_rate() / figures.floor_like_sdk_rate()),
        format!(
            "{:.2}",
            figures.sdk_cpu_micros() / figures.floor_like_sdk_cpu_micros()
        ),
    ]);
    table
}

fn offline_section(quick: bool) -> Result<(), SetupError> {
    // Without confirmations a call carries up to 50 rows: enough rows that the calls outlast
    // the bucket's burst of 50, so the rate is the sustained one.
    let replies = |confirm: bool| match (quick, confirm) {
        (true, true) => 200,
        (false, true) => 1_000,
        (true, false) => 2_000,
        (false, false) => 10_000,
    };
    let workload = |confirm| offline::Workload {
        replies: replies(confirm),
        chats: 50,
        time_scale: 25.0,
        confirm,
    };
    println!("## Offline event rows within the bucket\n");
    println!(
        "The standard bucket at time scale 25 (burst 50, 50 calls a real second; a real portal \
         drains 2 a second); operators' replies queued while the connector was down, then one \
         `OfflinePoller` reads, handles and clears them, confirming each reply's delivery or \
         not.\n"
    );
    let mut table = Table::new(&[
        "confirmation",
        "rows",
        "REST calls (per method)",
        "rows / call",
        "seconds",
        "rows/s",
        "rows/s a real portal's bucket allows (rows/call x 2 calls/s)",
        "QUERY_LIMIT_EXCEEDED",
        "left in the queue",
    ]);
    for confirm in [true, false] {
        let figures = offline::run(workload(confirm))?;
        let calls: Vec<String> = figures
            .requests
            .iter()
            .map(|(method, count)| format!("{method} {count}"))
            .collect();
        table.row(vec![
            if confirm {
                "`send.status.delivery`"
            } else {
                "none"
            }
            .to_owned(),
            number(figures.handled as f64, 0),
            format!("{} ({})", figures.total_requests(), calls.join(", ")),
            format!(
                "{:.1}",
                figures.handled as f64 / figures.total_requests().max(1) as f64
            ),
            format!("{:.2}", figures.elapsed.as_secs_f64()),
            number(figures.rows_per_second(), 0),
            number(figures.rows_per_portal_second(), 1),
            figures.limit_refusals.to_string(),
            figures.left.to_string(),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

fn throughput_section(quick: bool) -> Result<(), SetupError> {
    let time_scale = 10.0;
    let (naive, packed) = if quick {
        (
            throughput::Workload {
                messages: 150,
                chats: 150,
                lines: 5,
                time_scale,
            },
            throughput::Workload {
                messages: 10_000,
                chats: 1_000,
                lines: 5,
                time_scale,
            },
        )
    } else {
        (
            throughput::Workload {
                messages: 400,
                chats: 400,
                lines: 5,
                time_scale,
            },
            throughput::Workload {
                messages: 50_000,
                chats: 10_000,
                lines: 10,
                time_scale,
            },
        )
    };
    let runs = [
        (naive, throughput::Strategy::OnePerCall { concurrency: 4 }),
        (
            packed,
            throughput::Strategy::Sender {
                messages_per_call: 10,
                calls_per_request: 10,
            },
        ),
    ];
    println!(
        "## Throughput under the standard bucket (burst 50, 2 requests/s), time scale {time_scale}\n"
    );
    println!(
        "The emulator drains {} requests per real second; the client paces itself at the same \
         numbers (full rate, a reserve of 100 ms of drain in the burst).\n",
        number(2.0 * time_scale, 0)
    );
    let mut table = Table::new(&[
        "strategy",
        "messages / chats / lines",
        "requests",
        "seconds",
        "messages/s",
        "theoretical max messages/s",
        "achieved / max",
        "QUERY_LIMIT_EXCEEDED sent / reaching caller",
        "stored / delivered / not delivered",
    ]);
    for (workload, strategy) in runs {
        let figures = throughput::run(workload, strategy)?;
        let label = match strategy {
            throughput::Strategy::OnePerCall { concurrency } => {
                format!("one `send.messages` per message ({concurrency} at once)")
            }
            throughput::Strategy::Sender {
                messages_per_call,
                calls_per_request,
            } => format!(
                "`Sender` ({messages_per_call} messages/call x {calls_per_request} calls/batch)"
            ),
        };
        table.row(vec![
            label,
            format!(
                "{} / {} / {}",
                number(workload.messages as f64, 0),
                number(workload.chats as f64, 0),
                workload.lines
            ),
            number(figures.requests as f64, 0),
            format!("{:.2}", figures.elapsed.as_secs_f64()),
            number(figures.rate(), 0),
            format!(
                "{} (ceiling after the burst: {})",
                number(figures.theoretical_rate(), 0),
                number(figures.steady_ceiling(), 0)
            ),
            format!("{:.2}", figures.rate() / figures.theoretical_rate()),
            format!(
                "{} / {}",
                figures.limit_refusals_sent, figures.limit_refusals_seen
            ),
            format!(
                "{} / {} / {}",
                number(figures.stored as f64, 0),
                number(figures.stored as f64, 0),
                figures.not_delivered
            ),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

fn outbox_section(quick: bool) -> Result<(), SetupError> {
    let time_scale = 10.0;
    let workload = |messages: u64| throughput::Workload {
        messages,
        chats: messages / 10,
        lines: 5,
        time_scale,
    };
    // Under the bucket, far more requests than its burst of 50 (100 messages a request), so
    // the run measures the sustained rate, as the throughput section does.
    let (bucketed, unlimited) = if quick {
        (workload(10_000), workload(5_000))
    } else {
        (workload(50_000), workload(20_000))
    };
    let mut stores = vec![outbox::Store::Memory];
    if redis_outage::wanted() {
        stores.push(outbox::Store::Redis);
    }
    println!("## The sender's outbox: accepted messages/s and submit latency\n");
    println!(
        "`--only outbox`: submitters call `Sender::send` at once (default sender: 10 messages/call, \
         10 calls/batch, 4 requests in flight, a queue of 1,024); a submission is accepted once \
         it is in the outbox. With the bucket (standard, time scale {time_scale}) accepting is \
         held back by the queue filling up, so the submit latency is mostly the wait for room; \
         with one submitter and limits off it is the outbox write itself. \"Delivered / max\" \
         counts the bucket's burst of 50 requests as full packs; the burst goes out as fast as \
         the first messages arrive, so a slower intake (Redis) carries less in it. The target is \
         on the sustained window: from twice the burst in requests to 90% stored, against the \
         drain (full packs at the bucket's rate). Redis rows need IMCONNECTOR_REDIS_URL.\n"
    );
    let mut table = Table::new(&[
        "outbox",
        "limits",
        "submitters",
        "messages",
        "accepted/s",
        "delivered/s",
        "bucket max/s (burst + drain over the run)",
        "delivered / max",
        "sustained delivered/s",
        "sustained / drain (target ≥ 0.98)",
        "messages a request, sustained",
        "submit p50 µs",
        "submit p99 µs",
        "requests",
        "stored",
    ]);
    for store in stores {
        for (workload, bucket, submitters) in [
            (bucketed, true, 8),
            (unlimited, false, 8),
            (unlimited, false, 1),
        ] {
            let figures = outbox::run(outbox::Plan {
                workload,
                bucket,
                submitters,
                store,
            })?;
            table.row(vec![
                format!("{store:?}"),
                if bucket { "standard bucket" } else { "off" }.to_owned(),
                submitters.to_string(),
                number(workload.messages as f64, 0),
                number(figures.accepted_rate(), 0),
                number(figures.delivered_rate(), 0),
                if bucket {
                    number(figures.bucket_rate(), 0)
                } else {
                    String::new()
                },
                if bucket {
                    format!("{:.2}", figures.delivered_rate() / figures.bucket_rate())
                } else {
                    String::new()
                },
                match figures.sustained() {
                    Some(sustained) if bucket => number(sustained.delivered_rate, 0),
                    _ => String::new(),
                },
                match figures.sustained() {
                    Some(sustained) if bucket => {
                        let ratio = sustained.delivered_rate / figures.drain_rate();
                        let met = if ratio >= 0.98 { "met" } else { "not met" };
                        format!(
                            "{ratio:.2} ({met}, {:.1} s)",
                            sustained.window.as_secs_f64()
                        )
                    }
                    _ => String::new(),
                },
                match figures.sustained() {
                    Some(sustained) if bucket => format!("{:.1}", sustained.messages_per_request),
                    _ => String::new(),
                },
                number(figures.latency(0.5).as_secs_f64() * 1e6, 0),
                number(figures.latency(0.99).as_secs_f64() * 1e6, 0),
                number(figures.requests as f64, 0),
                number(figures.stored as f64, 0),
            ]);
        }
    }
    println!("{}", table.render());
    Ok(())
}

fn intake_section(quick: bool) -> Result<(), SetupError> {
    let events = if quick { 20_000 } else { 200_000 };
    let rows = intake::run(events)?;
    println!("## Event intake: `OnImConnectorMessageAdd` form bodies, one thread\n");
    let mut table = Table::new(&["path", "events", "events/s", "CPU µs/event", "vs raw parse"]);
    let raw = rows.first().map_or(1.0, intake::Row::rate);
    for row in &rows {
        table.row(vec![
            row.label.to_owned(),
            number(row.events as f64, 0),
            number(row.rate(), 0),
            number(row.cpu_micros(), 2),
            format!("{:.2}", row.rate() / raw),
        ]);
    }
    println!("{}", table.render());
    let crafted = intake::crafted(if quick { 64 * 1024 } else { 256 * 1024 })?;
    println!(
        "A crafted unauthenticated POST of {} KiB ({} `a[]=1` pairs) was answered {} after \
         {:.2} s of CPU ({:.2} s wall): the receiver parses the form before it checks the token.\n",
        crafted.bytes / 1024,
        number(crafted.pairs as f64, 0),
        crafted.status.as_u16(),
        crafted.spent.cpu.as_secs_f64(),
        crafted.spent.wall.as_secs_f64(),
    );
    Ok(())
}

fn emulator_section(quick: bool) -> Result<(), SetupError> {
    let plan = emulator_rps::Plan {
        requests: if quick { 20_000 } else { 100_000 },
        concurrency: 16,
        emulator_threads: 1,
    };
    let figures = emulator_rps::run(plan)?;
    println!("## Emulator capacity: `imconnector.status`, limits off\n");
    let mut table = Table::new(&["emulator threads", "connections", "requests", "requests/s"]);
    table.row(vec![
        plan.emulator_threads.to_string(),
        plan.concurrency.to_string(),
        number(figures.answered as f64, 0),
        number(figures.rate(), 0),
    ]);
    println!("{}", table.render());
    Ok(())
}

fn memory_section() -> Result<(), SetupError> {
    let chats = 10_000;
    let lines = 10;
    let latency = Duration::from_millis(250);
    let report = memory::run(chats, lines, latency)?;
    println!(
        "## Memory: one message for each of {} chats in flight through one `Sender`\n",
        number(chats as f64, 0)
    );
    println!(
        "Every request is held {} ms by the emulator, so all messages are queued or on the wire \
         together; the connector runs in a child process (its own `VmHWM`).\n",
        latency.as_millis()
    );
    let mut table = Table::new(&[
        "baseline VmHWM",
        "VmRSS with all queued",
        "peak VmHWM",
        "peak above baseline, per chat",
        "delivered",
        "seconds",
    ]);
    table.row(vec![
        format!("{} MiB", number(report.baseline_kib as f64 / 1024.0, 1)),
        format!("{} MiB", number(report.queued_kib as f64 / 1024.0, 1)),
        format!("{} MiB", number(report.peak_kib as f64 / 1024.0, 1)),
        format!("{} bytes", number(report.bytes_per_chat(), 0)),
        number(report.delivered as f64, 0),
        format!("{:.1}", report.elapsed_ms as f64 / 1000.0),
    ]);
    println!("{}", table.render());
    Ok(())
}

fn scale_section(quick: bool) -> Result<(), SetupError> {
    let (portals, own_http, days, poll_interval) = if quick {
        (1_000, 100, 31, Duration::from_secs(3))
    } else {
        (10_000, 1_000, 31, imconnector::offline::DEFAULT_INTERVAL)
    };
    let report = scale::run(portals, own_http, days, poll_interval)?;
    if report.failures > 0 || report.refreshes != report.emulator_refreshes {
        return Err(format!(
            "keep-alive: {} failures, {} refreshes reported, {} counted by the emulator",
            report.failures, report.refreshes, report.emulator_refreshes
        )
        .into());
    }
    println!(
        "## Scale: {} installed portals in one registry (memory store)\n",
        number(portals as f64, 0)
    );
    println!(
        "Resident memory per idle portal (VmRSS deltas); the offline poller's schedule \
         (`OfflinePoller`, default settings, interval {} s, every queue empty, no wake-ups): a \
         first round reading every portal, then, from half an interval later, the \
         `event.offline.get` calls of one interval; \
         the keep-alive's schedule: `KeepAlive::default()` (max_idle 30 days), a walk every \
         hour for {days} simulated days with the emulator's clock advanced in step, pairs \
         issued evenly over the 30 days before.\n",
        poll_interval.as_secs()
    );
    let mut table = Table::new(&["measure", "value"]);
    let bytes = |value: f64| format!("{} bytes", number(value, 0));
    table.row(vec![
        "record in the store, per portal".to_owned(),
        bytes(report.record_bytes),
    ]);
    table.row(vec![
        "its client (template sharing one HTTP client), per portal".to_owned(),
        bytes(report.shared_client_bytes),
    ]);
    table.row(vec![
        format!(
            "a client with its own HTTP client (default template), per portal, over {}",
            number(report.own_http_portals as f64, 0)
        ),
        bytes(report.own_client_bytes),
    ]);
    table.row(vec![
        "its task in the offline poller, per portal".to_owned(),
        bytes(report.poller_bytes),
    ]);
    table.row(vec![
        "offline poller: first round, every portal read once".to_owned(),
        format!("{} s", number(report.first_round.as_secs_f64(), 1)),
    ]);
    table.row(vec![
        "offline poller: `event.offline.get` per second, steady (planned: portals / interval)"
            .to_owned(),
        format!(
            "{} ({})",
            number(report.polls_per_second(), 1),
            number(report.planned_polls_per_second(), 1)
        ),
    ]);
    table.row(vec![
        "one keep-alive walk, nothing due".to_owned(),
        format!("{} ms", number(report.idle_walk.as_secs_f64() * 1000.0, 1)),
    ]);
    table.row(vec![
        format!("keep-alive: pairs refreshed in {days} days"),
        number(report.refreshes as f64, 0),
    ]);
    table.row(vec![
        "keep-alive: OAuth refreshes per second".to_owned(),
        number(report.refreshes_per_second(), 4),
    ]);
    table.row(vec![
        "keep-alive: store reads per second (one per portal per walk)".to_owned(),
        number(report.store_reads_per_second(), 2),
    ]);
    table.row(vec![
        "keep-alive: REST calls to the portals per second".to_owned(),
        number(report.keep_alive_rest_calls as f64 / report.seconds(), 4),
    ]);
    println!("{}", table.render());
    Ok(())
}

fn redis_section(quick: bool) -> Result<(), SetupError> {
    if !redis_outage::wanted() {
        println!(
            "## Pacing through a Redis outage: skipped ({} is not set; run `eval \"$(bash .ci/redis.sh start)\"` first)\n",
            redis_outage::URL_VAR
        );
        return Ok(());
    }
    let plan = redis_outage::Plan {
        settle: Duration::from_secs(3),
        window: Duration::from_secs(if quick { 4 } else { 10 }),
        callers: 8,
    };
    let figures = redis_outage::run(plan)?;
    println!(
        "## Pacing through a Redis outage: bucket {}/s, burst {} (emulator and client)\n",
        redis_outage::PER_SECOND,
        redis_outage::BURST
    );
    println!(
        "{} callers call `imconnector.list` as fast as the client lets them; each phase settles \
         {} s (the burst is spent), then counts {} s. The emulator sent {} \
         `QUERY_LIMIT_EXCEEDED` (retried by the client).\n",
        plan.callers,
        plan.settle.as_secs(),
        plan.window.as_secs(),
        figures.limit_refusals_sent
    );
    let mut table = Table::new(&[
        "phase",
        "calls",
        "calls/s",
        "ratio to local-only",
        "errors reaching callers (QUERY_LIMIT_EXCEEDED)",
    ]);
    let local = figures
        .phases
        .first()
        .map_or(1.0, redis_outage::Phase::rate);
    for phase in &figures.phases {
        table.row(vec![
            phase.label.to_owned(),
            number(phase.calls as f64, 0),
            number(phase.rate(), 1),
            format!("{:.2}", phase.rate() / local),
            format!("{} ({})", phase.errors, phase.limit_errors),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

fn inbox_section(quick: bool) -> Result<(), SetupError> {
    if !inbox::wanted() {
        println!(
            "## The durable inbox: skipped ({} is not set; run `eval \"$(bash .ci/redis.sh start)\"` first)\n",
            inbox::URL_VAR
        );
        return Ok(());
    }
    let (posts, events) = if quick { (500, 2_000) } else { (5_000, 20_000) };
    let figures = inbox::run(posts, events)?;
    println!("## The durable inbox (Redis Streams, local redis-server)\n");
    let met = |yes: bool| if yes { "yes" } else { "no" }.to_owned();
    println!(
        "Time from an event POST to its 200 with the Redis inbox (verified, appended, answered), \
         {} POSTs one at a time over loopback HTTP:\n",
        figures.latency_posts,
    );
    let mut latency = Table::new(&["p50 ms", "p99 ms", "max ms", "target (p99)", "met"]);
    latency.row(vec![
        format!("{:.2}", figures.p50.as_secs_f64() * 1e3),
        format!("{:.2}", figures.p99.as_secs_f64() * 1e3),
        format!("{:.2}", figures.max.as_secs_f64() * 1e3),
        "≤ 5 ms".to_owned(),
        met(figures.p99 <= Duration::from_millis(5)),
    ]);
    println!("{}", latency.render());
    let mut table = Table::new(&[
        "pipeline",
        "events",
        "events/s",
        "CPU µs/event (this process)",
        "redis-server CPU µs/event",
        "vs in memory",
        "target",
        "met",
    ]);
    let micros = |spent: Duration| format!("{:.1}", spent.as_secs_f64() * 1e6);
    table.row(vec![
        "in memory (POST, handler)".to_owned(),
        number(figures.events as f64, 0),
        number(figures.memory_rate, 0),
        micros(figures.memory_cpu),
        String::new(),
        "1.00".to_owned(),
        String::new(),
        String::new(),
    ]);
    let ratio = figures.durable_rate / figures.memory_rate;
    table.row(vec![
        "durable (POST, XADD, XREADGROUP, handler, XACK)".to_owned(),
        number(figures.events as f64, 0),
        number(figures.durable_rate, 0),
        micros(figures.durable_cpu),
        micros(figures.redis_cpu),
        format!("{ratio:.2}"),
        "≥ 0.50".to_owned(),
        met(ratio >= 0.5),
    ]);
    println!("{}", table.render());
    Ok(())
}
