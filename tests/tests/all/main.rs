//! The cross-crate tests, in one binary (each test binary links the whole workspace): the
//! connector's whole life, pacing against the emulated portal, the portal pushing back, the soak
//! with faults, and the compile-fail tests. Select a group by its module name, e.g.
//! `cargo test -p imconnector-tests --test all push_back -- --nocapture`.
//!
//! Two suites stay binaries of their own: `redis` (selectable on its own, it needs a
//! redis-server) and `fuzz_twins` (its global allocator counts every allocation of the process,
//! so no other test may run beside it).

mod lifecycle;
mod pacing;
mod push_back;
mod restart;
mod soak;
mod ui;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Keeps the groups apart as they were when each was a binary of its own: the push-back, pacing
/// and soak tests measure rates and deadlines, and the compile-fail tests compile, so on a
/// 2-core machine none may run beside another group.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// The machine to this test alone.
async fn alone() -> RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// The machine shared only with the other tests of one group, which always ran side by side
/// (the pacing tests).
async fn with_own_group() -> RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}
