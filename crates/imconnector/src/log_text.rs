//! What reaches a log line from outside: text an attacker chooses (a `member_id`, a domain, an
//! event name, any field of a POST) is escaped and cut ([`untrusted`]), and the warnings about
//! refused requests, which anyone can trigger, are rate-limited ([`Throttle`]).
//!
//! `tracing`'s fmt layer writes `%` (Display) fields raw, newlines and terminal escapes
//! included, so one forged POST could forge log lines; and every refused POST wrote a line, so
//! a flood of them flooded the log and its alerts.

use std::fmt::{self, Display, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most this many characters of one outside value reach a log line.
const MAX_CHARS: usize = 160;

/// `value`'s text for a log field: control characters (newlines, ANSI escapes) escaped as
/// `\n`, `\u{1b}`, at most [`MAX_CHARS`] characters, then `…`.
pub(crate) fn untrusted<T: Display>(value: T) -> Untrusted<T> {
    Untrusted(value)
}

/// See [`untrusted`].
pub(crate) struct Untrusted<T>(T);

impl<T: Display> Display for Untrusted<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut escaper = Escaper {
            out: formatter,
            left: MAX_CHARS,
            cut: false,
        };
        // The escaper stops the value's own formatting with an error once it is long enough.
        match write!(escaper, "{}", self.0) {
            Ok(()) => Ok(()),
            Err(_) if escaper.cut => escaper.out.write_char('…'),
            Err(error) => Err(error),
        }
    }
}

impl<T: Display> fmt::Debug for Untrusted<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(self, formatter)
    }
}

struct Escaper<'a, 'f> {
    out: &'a mut fmt::Formatter<'f>,
    left: usize,
    cut: bool,
}

impl Write for Escaper<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for character in text.chars() {
            if self.left == 0 {
                self.cut = true;
                return Err(fmt::Error);
            }
            self.left -= 1;
            if character.is_control() {
                for escaped in character.escape_default() {
                    self.out.write_char(escaped)?;
                }
            } else {
                self.out.write_char(character)?;
            }
        }
        Ok(())
    }
}

/// At most `per_window` lines in each `window`; the next line written says how many were left
/// out. Hand-written: a rate limiter (`governor`) answers yes or no, and the log needs the
/// count of the refused.
pub(crate) struct Throttle {
    per_window: u32,
    window: Duration,
    state: Mutex<Option<Window>>,
}

struct Window {
    started: Instant,
    written: u32,
    suppressed: u64,
}

impl Throttle {
    /// A throttle of `per_window` lines each `window`.
    pub(crate) const fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            state: Mutex::new(None),
        }
    }

    /// `Some(lines left out since the last one written)` when a line may be written now.
    pub(crate) fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let window = state.get_or_insert(Window {
            started: now,
            written: 0,
            suppressed: 0,
        });
        if now.saturating_duration_since(window.started) >= self.window {
            window.started = now;
            window.written = 0;
        }
        if window.written < self.per_window {
            window.written += 1;
            Some(std::mem::take(&mut window.suppressed))
        } else {
            window.suppressed += 1;
            None
        }
    }
}

/// Refused event POSTs (receiver) and install requests (installer): anyone can send them.
pub(crate) static REFUSED_REQUESTS: Throttle = Throttle::new(20, Duration::from_secs(60));

/// Failures to look up a portal's application token: a broken store, or keys a store refuses
/// (a forged `member_id`), on every event POST.
pub(crate) static TOKEN_LOOKUP_FAILURES: Throttle = Throttle::new(20, Duration::from_secs(60));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_is_cut() {
        let shown = untrusted("m1\nFAKE level=ERROR \u{1b}[31mred\r").to_string();
        assert_eq!(shown, "m1\\nFAKE level=ERROR \\u{1b}[31mred\\r");
        let long = untrusted("é".repeat(MAX_CHARS + 50)).to_string();
        assert_eq!(long.chars().count(), MAX_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(untrusted(42).to_string(), "42");
        assert_eq!(format!("{:?}", untrusted("a\tb")), "a\\tb");
    }

    #[test]
    fn a_throttle_writes_its_quota_then_counts_what_it_left_out() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        let first: Vec<_> = (0..10).map(|_| throttle.admit_at(start)).collect();
        assert_eq!(first[..3], [Some(0), Some(0), Some(0)]);
        assert!(first[3..].iter().all(Option::is_none));
        let later = start + Duration::from_secs(61);
        assert_eq!(
            throttle.admit_at(later),
            Some(7),
            "the next line counts the 7 left out"
        );
        assert_eq!(throttle.admit_at(later), Some(0));
    }
}
