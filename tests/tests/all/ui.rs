//! Compile-fail tests: the guarantees the generated request types give at compile time.

#[test]
fn requests_cannot_be_built_wrong() {
    let _machine = crate::MACHINE.blocking_write();
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
