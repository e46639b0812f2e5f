//! The knobs of the emulated portal: rate limit, operating-time budget, faults, soft-error shape.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The portal's leaky bucket (reference §1.7): each REST request adds one, the bucket drains at a
/// fixed rate, and a request that would overflow it is answered 503 `QUERY_LIMIT_EXCEEDED`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum RateLimit {
    /// No limit (the default, so tests only meet the bucket when they ask for it).
    #[default]
    Off,
    /// Ordinary plans: burst 50, drains 2 requests a second.
    Standard,
    /// Enterprise plans: burst 250, drains 5 requests a second.
    Enterprise,
    /// Your own numbers; build it with [`RateLimit::custom`].
    #[non_exhaustive]
    Custom {
        /// Requests drained per (emulated) second.
        per_second: f64,
        /// How many requests fit in the bucket.
        burst: u32,
    },
}

impl RateLimit {
    /// Your own bucket: drains `per_second` requests per (emulated) second, holds `burst`.
    pub fn custom(per_second: f64, burst: u32) -> Self {
        RateLimit::Custom { per_second, burst }
    }

    /// `(per_second, burst)`, or `None` when off.
    pub(crate) fn parameters(self) -> Option<(f64, f64)> {
        match self {
            RateLimit::Off => None,
            RateLimit::Standard => Some((2.0, 50.0)),
            RateLimit::Enterprise => Some((5.0, 250.0)),
            RateLimit::Custom { per_second, burst } => Some((per_second, f64::from(burst))),
        }
    }

    pub(crate) fn check(self) -> Result<(), String> {
        match self {
            RateLimit::Custom { per_second, burst }
                if !(per_second.is_finite() && per_second >= 0.0) || burst == 0 =>
            {
                Err(format!(
                    "rate_limit: per_second must be finite and >= 0 and burst >= 1 (got {per_second}, {burst})"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The per-method operating-time budget (reference §1.7): execution time of each (app, method)
/// is summed over ten one-minute buckets; once the sum exceeds `budget`, the next call of that
/// method is refused with 429 `OPERATION_TIME_LIMIT`. Responses then carry `time.operating` and
/// `time.operating_reset_at`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OperatingLimit {
    /// The allowed execution time per method within the ten-minute window (the cloud uses 480 s).
    #[serde(with = "secs")]
    pub budget: Duration,
    /// Emulated execution time charged per call. `None` charges the real processing time
    /// (microseconds here), which makes the limit practically unreachable; set a cost to test it.
    #[serde(default, with = "opt_secs")]
    pub cost_per_call: Option<Duration>,
}

impl OperatingLimit {
    /// A budget charging each call its measured processing time.
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            cost_per_call: None,
        }
    }

    /// Charges every call `cost` of emulated execution time instead of the measured time.
    #[must_use]
    pub fn cost_per_call(mut self, cost: Duration) -> Self {
        self.cost_per_call = Some(cost);
        self
    }
}

/// Fault injection, drawn from a random generator seeded with `seed`: the same seed and the same
/// sequence of requests give the same faults. Applies to REST and OAuth requests (to REST ones
/// only with [`rest_only`](Self::rest_only)), never to the control API (`query_limit_share`
/// applies to REST requests only: the OAuth server has no rate limit). The OAuth server's own
/// faults, by request count, are [`OAuthFaults`]. Shares are probabilities in `0.0..=1.0`; the four failure shares together must
/// not exceed 1.
///
/// ```
/// use std::time::Duration;
/// use imconnector_emulator::Faults;
///
/// let faults = Faults::new(7)
///     .error_500_share(0.05)
///     .query_limit_share(0.2)
///     .latency(Duration::from_millis(200), 0.1);
/// assert_eq!(faults.seed, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct Faults {
    /// Seed of the generator.
    pub seed: u64,
    /// Share of requests answered HTTP 500 with an HTML body (nothing is applied).
    pub error_500_share: f64,
    /// Latency added to a delayed request, in emulated time (divided by the time scale).
    #[serde(with = "secs")]
    pub latency: Duration,
    /// Share of requests delayed by `latency`.
    pub latency_share: f64,
    /// Share of connections reset before the request is processed (nothing is applied).
    pub drop_before_share: f64,
    /// Share of connections reset after the request was processed (it is applied; no answer).
    pub drop_after_share: f64,
    /// Share of REST requests refused 503 `QUERY_LIMIT_EXCEEDED`, the rate limit's own answer,
    /// whatever the bucket holds (nothing is applied): the portal pushing back because other
    /// clients filled its bucket.
    pub query_limit_share: f64,
    /// Spare the OAuth server: only REST requests draw these faults (a reset after a rotation
    /// would lose the pair, which no client survives on the real server either).
    pub rest_only: bool,
}

impl Faults {
    /// No faults yet, drawn from a generator seeded with `seed`; add them with the setters.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Share of requests answered HTTP 500 with an HTML body.
    #[must_use]
    pub fn error_500_share(mut self, share: f64) -> Self {
        self.error_500_share = share;
        self
    }

    /// Delays a `share` of requests by `latency` (emulated time).
    #[must_use]
    pub fn latency(mut self, latency: Duration, share: f64) -> Self {
        self.latency = latency;
        self.latency_share = share;
        self
    }

    /// Share of connections reset before the request is processed.
    #[must_use]
    pub fn drop_before_share(mut self, share: f64) -> Self {
        self.drop_before_share = share;
        self
    }

    /// Share of connections reset after the request was processed.
    #[must_use]
    pub fn drop_after_share(mut self, share: f64) -> Self {
        self.drop_after_share = share;
        self
    }

    /// Share of REST requests refused 503 `QUERY_LIMIT_EXCEEDED` without processing.
    #[must_use]
    pub fn query_limit_share(mut self, share: f64) -> Self {
        self.query_limit_share = share;
        self
    }

    /// Applies these faults to REST requests only, never to `/oauth/token/` (give that one
    /// [`OAuthFaults`] instead).
    #[must_use]
    pub fn rest_only(mut self) -> Self {
        self.rest_only = true;
        self
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let shares = [
            ("error_500_share", self.error_500_share),
            ("latency_share", self.latency_share),
            ("drop_before_share", self.drop_before_share),
            ("drop_after_share", self.drop_after_share),
            ("query_limit_share", self.query_limit_share),
        ];
        for (name, share) in shares {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!(
                    "faults.{name} must be within 0.0..=1.0 (got {share})"
                ));
            }
        }
        let failing = self.error_500_share
            + self.drop_before_share
            + self.drop_after_share
            + self.query_limit_share;
        if failing > 1.0 + 1e-9 {
            return Err(format!(
                "faults: error_500_share + drop_before_share + drop_after_share + query_limit_share must not exceed 1 (got {failing})"
            ));
        }
        Ok(())
    }
}

/// Faults of the OAuth server's `/oauth/token/`, counted by its requests (the first is 1), so a
/// short run meets them too: every `reset_every`th request has its connection reset before
/// anything is redeemed, and every `delay_every`th (unless reset) is answered after a delay
/// drawn uniformly between `shortest_delay` and `longest_delay` (emulated time, divided by the
/// time scale; the draws are seeded with `seed`). Both happen *before* the code or refresh
/// token is redeemed, so the client loses nothing: a refresh token still works after a reset,
/// and a client that hangs up during a delay redeems nothing either. A reset after the
/// rotation would lose the pair on the real server too, which no client can survive, so it is
/// not offered. Set with [`EmulatorBuilder::oauth_faults`](crate::EmulatorBuilder::oauth_faults)
/// or [`EmulatorHandle::set_oauth_faults`](crate::EmulatorHandle::set_oauth_faults); counted
/// in [`FaultCounters`](crate::FaultCounters)' `token_*` fields.
///
/// ```
/// use std::time::Duration;
/// use imconnector_emulator::OAuthFaults;
///
/// let faults = OAuthFaults::new(11)
///     .reset_every(3)
///     .delay_every(2, Duration::from_millis(200), Duration::from_millis(1200));
/// assert_eq!(faults.reset_every, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct OAuthFaults {
    /// Seed of the delays' draws.
    pub seed: u64,
    /// Every this many token requests, the connection is reset before redeeming (0: never).
    pub reset_every: u64,
    /// Every this many token requests (unless reset), the answer comes late (0: never).
    pub delay_every: u64,
    /// The shortest delay (emulated time).
    #[serde(with = "secs")]
    pub shortest_delay: Duration,
    /// The longest delay (emulated time).
    #[serde(with = "secs")]
    pub longest_delay: Duration,
}

impl OAuthFaults {
    /// No faults yet, delays drawn from a generator seeded with `seed`; add them with the
    /// setters.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Resets the connection of every `period`th token request before redeeming (0: never).
    #[must_use]
    pub fn reset_every(mut self, period: u64) -> Self {
        self.reset_every = period;
        self
    }

    /// Delays every `period`th token request (0: never) by between `shortest` and `longest`
    /// (emulated time).
    #[must_use]
    pub fn delay_every(mut self, period: u64, shortest: Duration, longest: Duration) -> Self {
        self.delay_every = period;
        self.shortest_delay = shortest;
        self.longest_delay = longest;
        self
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.shortest_delay > self.longest_delay {
            return Err(format!(
                "oauth_faults: shortest_delay must not exceed longest_delay (got {:?} > {:?})",
                self.shortest_delay, self.longest_delay
            ));
        }
        Ok(())
    }
}

/// Where `imconnector.register`/`unregister` put their HTTP-200 soft errors (reference §1.3, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SoftErrorShape {
    /// `{"result": {"result": false, "error": .., "error_description": ..}, "time": {..}}`
    /// (the docs and older server builds; the default).
    #[default]
    Wrapped,
    /// `{"result": false, "error": .., "error_description": ..}` with no `time` (newer builds).
    TopLevel,
}

/// What the connector settings page's POST carries (placement `SETTING_CONNECTOR`, reference
/// §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SettingsPostShape {
    /// Every field the docs list, `APPLICATION_TOKEN` included (the default).
    #[default]
    Full,
    /// Without `APPLICATION_TOKEN`, as a real portal may send it: the app has to prove the
    /// POST's `AUTH_ID` with the portal instead.
    WithoutApplicationToken,
}

/// Durations as (fractional) seconds in the HTTP control API.
mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}

mod opt_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_some(&value.as_secs_f64()),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(deserializer)?
            .map(|seconds| Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom))
            .transpose()
    }
}
