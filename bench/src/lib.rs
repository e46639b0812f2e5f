//! Benchmarks of imconnector-rs against its emulator; run them with
//! `cargo run --release -p imconnector-bench -- [--quick]` (see BENCHMARKS.md).
#![deny(missing_docs)]

pub mod emulator_rps;
pub mod intake;
pub mod measure;
pub mod memory;
pub mod overhead;
pub mod portal;
pub mod report;
pub mod throughput;

/// The facade's `Sender`, compiled from its source until `imconnector` exports it
/// (`pub mod sender;` in crates/imconnector/src/lib.rs); then this becomes
/// `pub use imconnector::sender;`.
#[path = "../../crates/imconnector/src"]
mod facade {
    pub mod sender;
}
pub use facade::sender;
