//! The allocation bound every target asserts: the peak heap bytes of one check, counted by the
//! binary's global allocator (`peak_alloc`), stay within what `imconnector_form::Limits`
//! allows a body of that size (10 bytes per byte, 256 KiB at least), plus a fixed allowance
//! for what a check does besides parsing (an HTTP round trip, a runtime's bookkeeping).
//!
//! Answers of the portal and its OAuth server (`oauth_answer`, `batch_answer`) are read by the
//! transport into `serde_json` values without a budget (their size is capped instead): those
//! targets hold them to [`ANSWER_AMPLIFICATION`], the worst a `serde_json::Value` costs per
//! byte of JSON, which still catches any blow-up beyond it.
//!
//! The counter is process-wide: libFuzzer runs one input at a time; the property tests that
//! include this file hold [`exclusive`] for each whole test.

use std::sync::{Mutex, MutexGuard, PoisonError};

use peak_alloc::PeakAlloc;

#[global_allocator]
static COUNTER: PeakAlloc = PeakAlloc;

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Heap bytes per byte of JSON a `serde_json::Value` takes at worst (a list of one-key
/// objects: 94 measured by `crates/imconnector-form/tests/allocation.rs` before the form
/// crate's JSON budget).
pub const ANSWER_AMPLIFICATION: usize = 128;

/// Holds the counter for one test: nothing else may allocate in between on purpose.
pub fn exclusive() -> MutexGuard<'static, ()> {
    EXCLUSIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What `run` returned and the bytes allocated at its peak beyond those live before it.
pub fn peak_during<T>(run: impl FnOnce() -> T) -> (T, usize) {
    let before = COUNTER.current_usage();
    COUNTER.reset_peak_usage();
    let result = run();
    let peak = COUNTER.peak_usage();
    (result, peak.saturating_sub(before))
}

/// The bytes a parse of `input_len` bytes may take (the parser's own budget).
pub fn bound(input_len: usize) -> usize {
    imconnector_form::Limits::default().budget_for(input_len)
}

/// Runs `run` and asserts its peak allocation is within [`bound`] of `input_len` plus
/// `allowance`.
///
/// # Panics
/// When it is not (that is the finding).
pub fn assert_bounded<T>(
    what: &str,
    input_len: usize,
    allowance: usize,
    run: impl FnOnce() -> T,
) -> T {
    assert_within(what, input_len, bound(input_len) + allowance, run)
}

/// Runs `run` and asserts its peak allocation is at most `limit` bytes.
///
/// # Panics
/// When it is not (that is the finding).
pub fn assert_within<T>(what: &str, input_len: usize, limit: usize, run: impl FnOnce() -> T) -> T {
    let (result, peak) = peak_during(run);
    assert!(
        peak <= limit,
        "{what}: {peak} bytes allocated for {input_len} bytes of input (bound {limit})"
    );
    result
}
