//! Event POST bodies: the form decoder and the typed event decoder must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imconnector_fuzz::event_form::check(data));
