//! Peak heap allocation of parsing a form body, against the bound of [`Limits`]: at most
//! `max_amplification` bytes per body byte (10), with a floor for tiny bodies (`min_budget`).
//!
//! A dedicated test binary: its global allocator counts the bytes live at the peak
//! (`peak_alloc`, one shared counter, so every measurement holds [`MEASURING`]).

use std::sync::{Mutex, PoisonError};

use imconnector_form::{parse_body, parse_with, Limits};
use peak_alloc::PeakAlloc;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

#[global_allocator]
static COUNTER: PeakAlloc = PeakAlloc;

/// One measurement at a time: the counter is process-wide.
static MEASURING: Mutex<()> = Mutex::new(());

/// The body size the issue measured with (a typical reverse-proxy body limit).
const BODY: usize = 256 * 1024;

/// The bytes allocated at the peak while `run` ran, beyond those live before it.
fn peak_during<T>(run: impl FnOnce() -> T) -> usize {
    let before = COUNTER.current_usage();
    COUNTER.reset_peak_usage();
    let result = run();
    let peak = COUNTER.peak_usage();
    drop(result);
    peak.saturating_sub(before)
}

/// What the default limits allow for a body of `len` bytes.
fn bound(len: usize) -> usize {
    let limits = Limits::default();
    (limits.max_amplification * len).max(limits.min_budget)
}

/// `unit` repeated up to (not beyond) `len` bytes.
fn repeated(unit: &str, len: usize) -> Vec<u8> {
    unit.repeat(len / unit.len()).into_bytes()
}

/// `len` bytes of pairs made by `pair(n)` for n = 0, 1, 2, ...
fn numbered(len: usize, pair: impl Fn(usize) -> String) -> Vec<u8> {
    let mut body = String::new();
    for n in 0.. {
        let next = pair(n);
        if body.len() + next.len() > len {
            break;
        }
        body.push_str(&next);
    }
    body.into_bytes()
}

/// Crafted bodies of about 256 KiB, by the shape they stress.
fn shapes() -> Vec<(&'static str, Vec<u8>)> {
    let appends_64 = format!("a{}=&", "[]".repeat(63));
    let encoded_appends = format!("a{}=&", "%5B%5D".repeat(63));
    let named_levels = format!("a{}=&", "[x]".repeat(63));
    vec![
        ("`a[]..[]=&` pairs, 64 levels", repeated(&appends_64, BODY)),
        (
            "percent-encoded `a%5B%5D..=&`, 64 levels",
            repeated(&encoded_appends, BODY),
        ),
        (
            "`a[x]..[x]=&` pairs, 64 levels",
            repeated(&named_levels, BODY),
        ),
        (
            "distinct `aN[x]..[x]=` chains",
            numbered(BODY, |n| format!("a{n}{}=&", "[x]".repeat(63))),
        ),
        (
            "distinct `aN[]..[]=` chains",
            numbered(BODY, |n| format!("a{n}{}=&", "[]".repeat(63))),
        ),
        (
            "distinct `a[N][x][y]=` branches",
            numbered(BODY, |n| format!("a[{n}][x][y]=&")),
        ),
        ("many vars `a=&`", repeated("a=&", BODY)),
        (
            "many distinct vars `aN=`",
            numbered(BODY, |n| format!("a{n}=&")),
        ),
        ("many `a[]=` appends", repeated("a[]=&", BODY)),
        (
            "wide level `a[kN]=`",
            numbered(BODY, |n| format!("a[k{n}]=&")),
        ),
        (
            "index gaps `a[999999999]`",
            repeated("a[999999999]=&a[]=&", BODY),
        ),
        (
            "index gaps at each level",
            numbered(BODY, |n| format!("a[{}][]=&", n * 999_999_937)),
        ),
        (
            "saturated next index",
            repeated("a[9223372036854775807]=&a[]=&a[]=&", BODY),
        ),
        ("scalars turned into arrays", repeated("a=1&a[b]=2&", BODY)),
        (
            "one long key",
            format!("{}=1", "k".repeat(BODY - 2)).into_bytes(),
        ),
        (
            "long keys of 1 KiB",
            numbered(BODY, |n| format!("{n}{}=&", "k".repeat(1024))),
        ),
        (
            "one huge value",
            format!("a={}", "v".repeat(BODY - 2)).into_bytes(),
        ),
        (
            "one huge invalid-UTF-8 value",
            [&b"a="[..], &[0xFF; BODY - 2][..]].concat(),
        ),
        (
            "percent-encoded invalid UTF-8",
            format!("a={}", "%FF".repeat((BODY - 2) / 3)).into_bytes(),
        ),
        (
            "invalid-UTF-8 keys",
            [&b"\xFF\xFF[\xFF]=&"[..]].concat().repeat(BODY / 8),
        ),
        ("only `&`", vec![b'&'; BODY]),
        ("only `=`", vec![b'='; BODY]),
        ("only `[`", vec![b'['; BODY]),
        ("only `[]`", repeated("[]", BODY)),
        ("unclosed brackets", repeated("a[b=&", BODY)),
        (
            "mixed",
            numbered(BODY, |n| match n % 5 {
                0 => format!("m{n}[x][]{}=&", "[]".repeat(n % 60)),
                1 => format!("a[]=%5B{n}&"),
                2 => format!("b[{}][k{n}]=v&", n * 7919),
                3 => "&&&".to_owned(),
                _ => format!("c%5B{n}%5D%5Bq%5D=%FF%00&"),
            }),
        ),
    ]
}

/// The default limits, and the same without a cap on pairs: the memory budget alone must hold
/// the bound.
fn limit_sets() -> [(&'static str, Limits); 2] {
    [
        ("default limits", Limits::default()),
        ("no var limit", Limits::default().with_max_vars(usize::MAX)),
    ]
}

#[test]
fn crafted_256_kib_bodies_stay_within_the_allocation_bound() {
    let _one = MEASURING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut report = Vec::new();
    for (limits_name, limits) in limit_sets() {
        for (shape, body) in shapes() {
            let mut outcome = String::new();
            let peak = peak_during(|| {
                let parsed = parse_with(&body, limits);
                outcome = format!("{:?}", parsed.as_ref().map(|_| "parsed"));
                parsed
            });
            let ratio = peak as f64 / body.len().max(1) as f64;
            println!(
                "FIGURE form parse peak ({limits_name}) {shape}: {peak} bytes for {} ({ratio:.1}x), {outcome}",
                body.len()
            );
            if peak > bound(body.len()) {
                report.push(format!(
                    "{limits_name}, {shape}: {peak} bytes for {} ({ratio:.1}x)",
                    body.len()
                ));
            }
        }
    }
    assert!(report.is_empty(), "over the bound:\n{}", report.join("\n"));
}

#[test]
fn a_json_body_stays_within_the_allocation_bound() {
    let _one = MEASURING.lock().unwrap_or_else(PoisonError::into_inner);
    let shapes: Vec<(&str, Vec<u8>)> = vec![
        (
            "nested objects",
            format!("[{}]", "{\"a\":{\"a\":1}},".repeat(BODY / 14))
                .replace(",]", "]")
                .into_bytes(),
        ),
        (
            "zeros",
            format!("[{}0]", "0,".repeat(BODY / 2 - 2)).into_bytes(),
        ),
        (
            "empty objects",
            format!("[{}{{}}]", "{},".repeat(BODY / 3 - 2)).into_bytes(),
        ),
        (
            "deep arrays",
            format!("{}{}", "[".repeat(120), "]".repeat(120))
                .repeat(BODY / 240)
                .into_bytes(),
        ),
    ];
    let mut report = Vec::new();
    for (shape, body) in shapes {
        let peak = peak_during(|| parse_body(Some("application/json"), &body));
        let ratio = peak as f64 / body.len().max(1) as f64;
        println!(
            "FIGURE json parse peak {shape}: {peak} bytes for {} ({ratio:.1}x)",
            body.len()
        );
        if peak > bound(body.len()) {
            report.push(format!(
                "{shape}: {peak} bytes for {} ({ratio:.1}x)",
                body.len()
            ));
        }
    }
    assert!(report.is_empty(), "over the bound:\n{}", report.join("\n"));
}

/// Pieces of a form body; a unit made of a few of them, repeated, makes every shape that
/// amplifies (deep, wide, appended, gapped, encoded).
const TOKENS: [&str; 16] = [
    "a",
    "b7",
    "[]",
    "[x]",
    "[0]",
    "[999999999]",
    "%5B",
    "%5D",
    "%5B%5D",
    "=",
    "=v",
    "&",
    "+",
    "%FF",
    "\u{ff}",
    "[",
];

/// Bodies made of a random unit of [`TOKENS`] repeated up to a random length (the shape every
/// amplification needs), with random bytes after it.
fn amplifying_body() -> impl Strategy<Value = Vec<u8>> {
    let unit = proptest::collection::vec(proptest::sample::select(TOKENS.to_vec()), 1..40);
    let noise = proptest::collection::vec(any::<u8>(), 0..64);
    (unit, 1..BODY, noise).prop_map(|(unit, len, noise)| {
        let unit = unit.concat();
        let mut body = unit.repeat(len / unit.len()).into_bytes();
        body.extend_from_slice(&noise);
        body
    })
}

/// Runs `strategy` through proptest while holding [`MEASURING`]: generating a case
/// allocates too, so no other test may run meanwhile.
fn check_bound(strategy: impl Strategy<Value = Vec<u8>>, cases: u32) {
    let _one = MEASURING.lock().unwrap_or_else(PoisonError::into_inner);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases));
    let verdict = runner.run(&strategy, |body| {
        for (limits_name, limits) in limit_sets() {
            let peak = peak_during(|| parse_with(&body, limits));
            prop_assert!(
                peak <= bound(body.len()),
                "{limits_name}: {peak} bytes for {}",
                body.len()
            );
        }
        Ok(())
    });
    if let Err(failure) = verdict {
        panic!("{failure}");
    }
}

#[test]
fn any_body_stays_within_the_allocation_bound() {
    check_bound(amplifying_body(), 64);
}

#[test]
fn any_small_body_stays_within_the_allocation_bound() {
    check_bound(proptest::collection::vec(any::<u8>(), 0..2048), 256);
}
