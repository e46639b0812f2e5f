//! Benchmarks of imconnector-rs against its emulator; run them with
//! `cargo run --release -p imconnector-bench -- [--quick]` (see BENCHMARKS.md).
#![deny(missing_docs)]

pub mod emulator_rps;
pub mod inbox;
pub mod intake;
pub mod measure;
pub mod memory;
pub mod offline;
pub mod outbox;
pub mod overhead;
pub mod portal;
pub mod redis_outage;
pub mod report;
pub mod scale;
pub mod throughput;

pub use imconnector::sender;
