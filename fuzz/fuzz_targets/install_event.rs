//! ONAPPINSTALL bodies (`PortalRecord::from_install_event`): never a panic, tokens never in
//! `Debug`, allocation bounded.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imconnector_fuzz::install_event::check(data));
