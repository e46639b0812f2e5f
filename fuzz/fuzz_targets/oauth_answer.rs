//! OAuth token answers through `OAuthServer::refresh` against a local server: never a panic,
//! no secret in an error, allocation bounded.
#![no_main]

use std::sync::OnceLock;

use imconnector_fuzz::oauth_answer::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(|| Harness::start().expect("a local server"));
    imconnector_fuzz::oauth_answer::check(harness, data);
});
