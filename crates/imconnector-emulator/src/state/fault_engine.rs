//! Seeded fault decisions: one draw sequence per request, so a seed replays the same faults.
//! The draws are portal state (taken under the lock); `crate::faults` applies them.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Faults, OAuthFaults};
use crate::state::Portal;

/// Which server a request reached: the faults differ a little.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The portal's REST API.
    Rest,
    /// The OAuth server, which has no rate limit: a `QUERY_LIMIT_EXCEEDED` drawn for it is
    /// not applied (the draw still happens, so the sequence stays the seed's).
    OAuth,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultAction {
    /// Serve it normally.
    None,
    /// Answer 500 with an HTML page, without processing.
    Error500,
    /// Reset the connection before processing.
    DropBefore,
    /// Process, then reset the connection instead of answering.
    DropAfter,
    /// Answer 503 `QUERY_LIMIT_EXCEEDED`, as the rate limit does, without processing (REST only).
    QueryLimitExceeded,
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultDecision {
    /// Emulated delay to add before anything else.
    pub(crate) latency: Option<Duration>,
    pub(crate) action: FaultAction,
}

impl FaultDecision {
    pub(crate) const CLEAN: FaultDecision = FaultDecision {
        latency: None,
        action: FaultAction::None,
    };
}

/// What one token request gets from the [`OAuthFaults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenFate {
    /// Served normally.
    Answer,
    /// The connection is reset before anything is redeemed.
    Reset,
    /// Answered after this (emulated) delay, if the client still waits.
    Delay(Duration),
}

/// The OAuth faults, their generator, and the token requests counted so far.
#[derive(Debug)]
struct TokenDraws {
    faults: OAuthFaults,
    rng: StdRng,
    requests: u64,
}

/// The configured faults and their generators.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    config: Option<(Faults, StdRng)>,
    token: Option<TokenDraws>,
}

impl FaultEngine {
    pub(crate) fn new(faults: Option<Faults>, oauth: Option<OAuthFaults>) -> Self {
        let mut engine = Self {
            config: None,
            token: None,
        };
        engine.set_faults(faults);
        engine.set_oauth_faults(oauth);
        engine
    }

    /// Replaces the share faults; their generator restarts from the seed.
    pub(crate) fn set_faults(&mut self, faults: Option<Faults>) {
        self.config = faults.map(|faults| {
            let rng = StdRng::seed_from_u64(faults.seed);
            (faults, rng)
        });
    }

    /// Replaces the OAuth faults; the request count and the generator start again.
    pub(crate) fn set_oauth_faults(&mut self, faults: Option<OAuthFaults>) {
        self.token = faults.map(|faults| TokenDraws {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            requests: 0,
        });
    }

    /// The fate of the next token request: a reset every `reset_every`th, else a delay every
    /// `delay_every`th (one draw per delay).
    pub(crate) fn decide_token(&mut self) -> TokenFate {
        let Some(draws) = &mut self.token else {
            return TokenFate::Answer;
        };
        draws.requests += 1;
        let requests = draws.requests;
        let every = |period: u64| period > 0 && requests.is_multiple_of(period);
        let faults = &draws.faults;
        if every(faults.reset_every) {
            TokenFate::Reset
        } else if every(faults.delay_every) {
            let spread = faults.longest_delay.saturating_sub(faults.shortest_delay);
            let roll: f64 = draws.rng.random();
            TokenFate::Delay(faults.shortest_delay + spread.mul_f64(roll))
        } else {
            TokenFate::Answer
        }
    }

    /// Draws the decision for the next request to `endpoint`. Every request that the faults
    /// apply to consumes exactly two numbers, whatever the outcome, so the sequence only
    /// depends on the seed and the request order.
    pub(crate) fn decide(&mut self, endpoint: Endpoint) -> FaultDecision {
        let Some((faults, rng)) = &mut self.config else {
            return FaultDecision::CLEAN;
        };
        if endpoint == Endpoint::OAuth && faults.rest_only {
            return FaultDecision::CLEAN;
        }
        let latency_roll: f64 = rng.random();
        let action_roll: f64 = rng.random();
        let latency = (latency_roll < faults.latency_share && !faults.latency.is_zero())
            .then_some(faults.latency);
        let mut threshold = faults.error_500_share;
        let action = if action_roll < threshold {
            FaultAction::Error500
        } else {
            threshold += faults.drop_before_share;
            if action_roll < threshold {
                FaultAction::DropBefore
            } else {
                threshold += faults.drop_after_share;
                if action_roll < threshold {
                    FaultAction::DropAfter
                } else {
                    // Last, so adding this kind left the decisions of older configurations as
                    // they were.
                    threshold += faults.query_limit_share;
                    if action_roll < threshold {
                        FaultAction::QueryLimitExceeded
                    } else {
                        FaultAction::None
                    }
                }
            }
        };
        FaultDecision { latency, action }
    }
}

impl Portal {
    /// Draws the faults of the next request to `endpoint` and counts them.
    pub(crate) fn draw_faults(&mut self, endpoint: Endpoint) -> FaultDecision {
        let mut decision = self.faults.decide(endpoint);
        if endpoint == Endpoint::OAuth && decision.action == FaultAction::QueryLimitExceeded {
            decision.action = FaultAction::None;
        }
        let counters = &mut self.counters.faults;
        if decision.latency.is_some() {
            counters.delayed += 1;
        }
        match decision.action {
            FaultAction::Error500 => counters.error_500 += 1,
            FaultAction::DropBefore => counters.dropped_before += 1,
            FaultAction::DropAfter => counters.dropped_after += 1,
            FaultAction::QueryLimitExceeded => counters.query_limit_exceeded += 1,
            FaultAction::None => {}
        }
        decision
    }

    /// Draws the [`OAuthFaults`] fate of the next token request and counts it.
    pub(crate) fn draw_token_fate(&mut self) -> TokenFate {
        let fate = self.faults.decide_token();
        let counters = &mut self.counters.faults;
        match fate {
            TokenFate::Reset => counters.token_resets += 1,
            TokenFate::Delay(_) => counters.token_delays += 1,
            TokenFate::Answer => {}
        }
        fate
    }

    /// Counts a delayed token request whose client hung up.
    pub(crate) fn count_abandoned_token_request(&mut self) {
        self.counters.faults.token_abandoned += 1;
    }

    /// Replaces the share faults (`None`: off).
    pub(crate) fn set_faults(&mut self, faults: Option<Faults>) {
        self.faults.set_faults(faults.clone());
        self.settings.faults = faults;
    }

    /// Replaces the OAuth faults (`None`: off).
    pub(crate) fn set_oauth_faults(&mut self, faults: Option<OAuthFaults>) {
        self.faults.set_oauth_faults(faults.clone());
        self.settings.oauth_faults = faults;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(seed: u64) -> Vec<FaultDecision> {
        let faults = Faults::new(seed)
            .error_500_share(0.15)
            .drop_before_share(0.15)
            .drop_after_share(0.15)
            .query_limit_share(0.15)
            .latency(Duration::from_millis(5), 0.5);
        let mut engine = FaultEngine::new(Some(faults), None);
        (0..200).map(|_| engine.decide(Endpoint::Rest)).collect()
    }

    #[test]
    fn same_seed_same_faults_and_every_kind_occurs() {
        let first = sequence(7);
        assert_eq!(first, sequence(7));
        assert_ne!(first, sequence(8));
        for action in [
            FaultAction::None,
            FaultAction::Error500,
            FaultAction::DropBefore,
            FaultAction::DropAfter,
            FaultAction::QueryLimitExceeded,
        ] {
            assert!(
                first.iter().any(|decision| decision.action == action),
                "{action:?}"
            );
        }
        assert!(first.iter().any(|decision| decision.latency.is_some()));
    }

    #[test]
    fn no_faults_configured_means_clean() {
        let mut engine = FaultEngine::new(None, None);
        assert_eq!(engine.decide(Endpoint::Rest), FaultDecision::CLEAN);
        assert_eq!(engine.decide_token(), TokenFate::Answer);
    }

    #[test]
    fn rest_only_faults_spare_the_oauth_server() {
        let faults = Faults::new(1).error_500_share(1.0).rest_only();
        let mut engine = FaultEngine::new(Some(faults), None);
        assert_eq!(engine.decide(Endpoint::OAuth), FaultDecision::CLEAN);
        assert_eq!(engine.decide(Endpoint::Rest).action, FaultAction::Error500);
    }

    #[test]
    fn token_faults_come_by_request_count_and_delays_stay_in_range() {
        let (shortest, longest) = (Duration::from_millis(200), Duration::from_millis(1200));
        let faults = OAuthFaults::new(11)
            .reset_every(3)
            .delay_every(2, shortest, longest);
        let mut engine = FaultEngine::new(None, Some(faults));
        let fates: Vec<TokenFate> = (0..12).map(|_| engine.decide_token()).collect();
        for (index, fate) in fates.iter().enumerate() {
            let request = index + 1;
            match fate {
                TokenFate::Reset => assert_eq!(request % 3, 0, "{fates:?}"),
                TokenFate::Delay(delay) => {
                    assert!(request % 2 == 0 && request % 3 != 0, "{fates:?}");
                    assert!((shortest..=longest).contains(delay), "{delay:?}");
                }
                TokenFate::Answer => assert!(request % 2 != 0 && request % 3 != 0),
            }
        }
    }
}
