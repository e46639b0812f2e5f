//! The `imconnector-emulator` binary.
fn main() {}
