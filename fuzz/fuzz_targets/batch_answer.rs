//! Batch answers through `Client::batch` against a local server: one outcome per command in
//! order, no secret in an error, allocation bounded.
#![no_main]

use std::sync::OnceLock;

use imconnector_fuzz::batch_answer::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(|| Harness::start().expect("a local server"));
    imconnector_fuzz::batch_answer::check(harness, data);
});
