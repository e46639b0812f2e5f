//! Request validators: connector ids, line ids, icon URIs and message checks must never panic
//! and must accept exactly what the portal accepts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imconnector_fuzz::validators::check(data));
