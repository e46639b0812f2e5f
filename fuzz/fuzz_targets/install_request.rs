//! Install POSTs (UI install, ONAPPINSTALL, ONAPPUNINSTALL) through `Installer::handle` with an
//! unreachable OAuth server: always refused, nothing stored, allocation bounded.
#![no_main]

use std::sync::OnceLock;

use imconnector_fuzz::install_request::Harness;

static HARNESS: OnceLock<Harness> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let harness = HARNESS.get_or_init(|| Harness::start().expect("an installer"));
    imconnector_fuzz::install_request::check(harness, data);
});
