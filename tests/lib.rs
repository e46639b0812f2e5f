//! Cross-crate tests live in this package's `tests/` directory.
