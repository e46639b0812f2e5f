//! Runs one event-intake path alone, for a profiler:
//! `valgrind --tool=callgrind target/release/examples/intake_profile router 20000`
//! (paths: parse, decode, verify, router; see BENCHMARKS.md "Event intake").

use std::process::ExitCode;

use imconnector_bench::intake::{run_path, Path};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = match args.next().as_deref() {
        Some("parse") => Path::Parse,
        Some("decode") => Path::Decode,
        Some("verify") => Path::Verify,
        Some("router") => Path::Router,
        _ => {
            eprintln!("usage: intake_profile parse|decode|verify|router [EVENTS]");
            return ExitCode::FAILURE;
        }
    };
    let events = args
        .next()
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    match run_path(path, events) {
        Ok(row) => {
            println!(
                "{}: {} events, {:.0} events/s, {:.2} CPU µs/event",
                row.label,
                row.events,
                row.rate(),
                row.cpu_micros()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("failed: {error}");
            ExitCode::FAILURE
        }
    }
}
