//! Cross-crate tests live in this package's `tests/` directory; what several of them share
//! (a redis-server of a test's own) lives here. The OAuth server with faults is the emulator's
//! (`OAuthFaults`, `hold_next_token_request`).

#[path = "support/kill.rs"]
pub mod kill;
#[path = "support/kill_inbound.rs"]
pub mod kill_inbound;
#[path = "support/redis_process.rs"]
pub mod redis_process;

// The repository's README is the first code a user copies: its examples compile (`no_run` ones)
// and run (the emulator one) as doctests of this package.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct RootReadme;
