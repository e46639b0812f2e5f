//! REST answers: any status and body through `Client::call_raw` against a local server must
//! give the right result or error, never a panic.
#![no_main]

use std::sync::OnceLock;

use imconnector_fuzz::envelope::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(|| Harness::start().expect("a local server"));
    imconnector_fuzz::envelope::check(harness, data);
});
