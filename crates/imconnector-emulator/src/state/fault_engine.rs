//! Seeded fault decisions: one draw sequence per request, so a seed replays the same faults.
//! The draws are portal state (taken under the lock); `crate::faults` applies them.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::Faults;
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

/// The configured faults and their generator.
#[derive(Debug)]
pub(crate) struct FaultEngine {
    config: Option<(Faults, StdRng)>,
}

impl FaultEngine {
    pub(crate) fn new(faults: Option<Faults>) -> Self {
        Self {
            config: faults.map(|faults| {
                let rng = StdRng::seed_from_u64(faults.seed);
                (faults, rng)
            }),
        }
    }

    /// Draws the decision for the next request. Every request consumes exactly two numbers,
    /// whatever the outcome, so the sequence only depends on the seed and the request order.
    pub(crate) fn decide(&mut self) -> FaultDecision {
        let Some((faults, rng)) = &mut self.config else {
            return FaultDecision::CLEAN;
        };
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
        let mut decision = self.faults.decide();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(seed: u64) -> Vec<FaultDecision> {
        let mut engine = FaultEngine::new(Some(Faults {
            seed,
            error_500_share: 0.15,
            drop_before_share: 0.15,
            drop_after_share: 0.15,
            query_limit_share: 0.15,
            latency: Duration::from_millis(5),
            latency_share: 0.5,
        }));
        (0..200).map(|_| engine.decide()).collect()
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
        let mut engine = FaultEngine::new(None);
        assert_eq!(engine.decide(), FaultDecision::CLEAN);
    }
}
