//! The settings page's POST (`SettingsPlacement::parse`): never a panic, tokens never in
//! `Debug`, allocation bounded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imconnector_fuzz::settings_placement::check(data));
