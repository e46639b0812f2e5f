//! `cargo run --release -p imconnector-bench -- [--quick]`.

fn main() {}
