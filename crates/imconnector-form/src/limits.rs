//! The bounds of a parse: PHP's `max_input_vars` and `max_input_nesting_level`, and a memory
//! budget proportional to the body, so no body (however crafted) makes the parse hold more
//! than a fixed multiple of its own size.

use crate::FormError;

/// How many `key=value` pairs a body may hold (PHP's default `max_input_vars`).
pub const MAX_VARS: usize = 1000;

/// How deep brackets may nest before a key is refused (PHP's default `max_input_nesting_level`).
pub const MAX_DEPTH: usize = 64;

/// The bounds of one parse. [`Limits::default`] is what [`parse`](crate::parse) and
/// [`parse_body`](crate::parse_body) apply; change one with the `with_` setters:
///
/// ```
/// let limits = imconnector_form::Limits::default().with_max_vars(5_000);
/// assert_eq!(limits.max_vars, 5_000);
/// assert_eq!(limits.max_depth, imconnector_form::MAX_DEPTH);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// At most this many `key=value` pairs ([`MAX_VARS`]); more is [`FormError::TooManyVars`].
    pub max_vars: usize,
    /// At most this many bracket levels after a key's base name ([`MAX_DEPTH`]); deeper is
    /// [`FormError::TooDeep`].
    pub max_depth: usize,
    /// The parse may hold at most this many heap bytes per byte of body at any moment (10):
    /// its buffers, the tree it builds and the JSON value it returns, all counted. A body that
    /// would take more (deep or wide nesting of tiny keys) is [`FormError::TooLarge`].
    pub max_amplification: usize,
    /// Small bodies may always use this many bytes (256 KiB), whatever `max_amplification`
    /// gives them: a map costs a fixed few hundred bytes however short its keys.
    pub min_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_vars: MAX_VARS,
            max_depth: MAX_DEPTH,
            max_amplification: 10,
            min_budget: 256 * 1024,
        }
    }
}

impl Limits {
    /// Allows `max_vars` pairs.
    #[must_use]
    pub fn with_max_vars(mut self, max_vars: usize) -> Self {
        self.max_vars = max_vars;
        self
    }

    /// Allows `max_depth` bracket levels.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Allows `max_amplification` heap bytes per body byte.
    #[must_use]
    pub fn with_max_amplification(mut self, max_amplification: usize) -> Self {
        self.max_amplification = max_amplification;
        self
    }

    /// Allows small bodies `min_budget` heap bytes.
    #[must_use]
    pub fn with_min_budget(mut self, min_budget: usize) -> Self {
        self.min_budget = min_budget;
        self
    }

    /// The heap bytes a parse of `body_len` bytes may hold.
    #[must_use]
    pub fn budget_for(&self, body_len: usize) -> usize {
        self.max_amplification
            .saturating_mul(body_len)
            .max(self.min_budget)
    }
}

/// The heap bytes a parse has committed to, checked before each allocation is made.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Limits,
    spent: usize,
    allowed: usize,
    /// Bytes of input seen, for a budget that grows with its input ([`Budget::widen`]).
    consumed: usize,
}

impl Budget {
    /// The budget of a body of `body_len` bytes.
    pub(crate) fn for_body(limits: Limits, body_len: usize) -> Self {
        Self {
            limits,
            spent: 0,
            allowed: limits.budget_for(body_len),
            consumed: body_len,
        }
    }

    /// A budget that starts at the floor and grows with [`Budget::widen`].
    pub(crate) fn growing(limits: Limits) -> Self {
        Self::for_body(limits, 0)
    }

    /// `bytes` more of input were read: the budget grows accordingly.
    pub(crate) fn widen(&mut self, bytes: usize) {
        self.consumed = self.consumed.saturating_add(bytes);
        self.allowed = self.limits.budget_for(self.consumed);
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Gives back `bytes` committed before: an allocation that was freed.
    pub(crate) fn refund(&mut self, bytes: usize) {
        self.spent = self.spent.saturating_sub(bytes);
    }

    /// Commits `bytes` more, or refuses when that would pass the budget.
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<(), FormError> {
        self.spent = self.spent.saturating_add(bytes);
        if self.spent > self.allowed {
            Err(FormError::TooLarge {
                budget: self.allowed,
            })
        } else {
            Ok(())
        }
    }
}

/// At most `max_chars` of `text`, with control characters (newlines, ANSI escapes) escaped:
/// attacker-chosen text that ends up in an error message, and so in a log line.
pub(crate) fn printable(text: &str, max_chars: usize) -> String {
    let mut shown = String::new();
    for (count, character) in text.chars().enumerate() {
        if count == max_chars {
            shown.push('…');
            break;
        }
        if character.is_control() {
            shown.extend(character.escape_default());
        } else {
            shown.push(character);
        }
    }
    shown
}
