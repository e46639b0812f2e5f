//! The allocation bound every target asserts: the peak heap bytes of one check, counted by the
//! binary's global allocator (`peak_alloc`), stay within what `imconnector_form::Limits`
//! allows a body of that size (10 bytes per byte, 256 KiB at least), plus a fixed allowance
//! for what a check does besides parsing (an HTTP round trip, a runtime's bookkeeping).
//!
//! Answers of the portal and its OAuth server (`oauth_answer`, `batch_answer`) are built into
//! `serde_json` values within the transport's own budget (24 bytes per byte for REST answers,
//! 10 for token answers, 256 KiB at least); those targets hold them to [`ANSWER_AMPLIFICATION`]
//! per byte: the budget plus the body and its copies (a plain `Value` took up to 96).
//!
//! The counter is process-wide: libFuzzer runs one input at a time; the property tests that
//! include this file hold [`exclusive`] for each whole test.

use std::sync::{Mutex, MutexGuard, PoisonError};

use peak_alloc::PeakAlloc;

#[global_allocator]
static COUNTER: PeakAlloc = PeakAlloc;

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Heap bytes per byte of an answer the transport may hold while reading it: its value budget
/// for REST answers (24) plus the body, the `result` text and slack (measured at most 21 with a
/// 256 KiB answer of one-key objects).
pub const ANSWER_AMPLIFICATION: usize = 32;

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
