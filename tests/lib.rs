//! Cross-crate tests live in this package's `tests/` directory.

// The repository's README is the first code a user copies: its examples compile (`no_run` ones)
// and run (the emulator one) as doctests of this package.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct RootReadme;
