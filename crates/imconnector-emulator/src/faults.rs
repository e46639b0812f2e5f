//! Injected faults, applied to a request before and after it is processed: latency, an HTML
//! 500, `QUERY_LIMIT_EXCEEDED`, or a reset connection; and the OAuth server's own (a reset or a
//! delay before redeeming, a held request). What happens is drawn under the lock from the
//! portal's seeded [`FaultEngine`](crate::state::fault_engine::FaultEngine).

use axum::response::Response;

use crate::envelope::{error_response, html_500, ApiError};
use crate::server::ConnectionKill;
use crate::state::fault_engine::{Endpoint, FaultAction, TokenFate};
use crate::state::Shared;

/// Resets the connection and never answers. Without a kill switch (a router used outside
/// [`serve`]) it falls back to a 500.
pub(crate) async fn reset_connection(kill: Option<&ConnectionKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.trigger();
            std::future::pending::<()>().await;
            html_500()
        }
        None => html_500(),
    }
}

/// Draws and applies the faults of one request: latency, then 500, `QUERY_LIMIT_EXCEEDED` or a
/// reset before processing. `Ok` carries the action still to apply after processing.
pub(crate) async fn apply_faults(
    shared: &Shared,
    kill: Option<&ConnectionKill>,
    endpoint: Endpoint,
) -> Result<FaultAction, Response> {
    let decision = shared.lock().draw_faults(endpoint);
    if let Some(latency) = decision.latency {
        tokio::time::sleep(shared.clock.real_duration(latency)).await;
    }
    match decision.action {
        FaultAction::Error500 => Err(html_500()),
        FaultAction::QueryLimitExceeded => Err(error_response(&ApiError::query_limit_exceeded())),
        FaultAction::DropBefore => Err(reset_connection(kill).await),
        action => Ok(action),
    }
}

/// Applies the [`OAuthFaults`](crate::OAuthFaults) and the hold to a token request, before
/// anything is redeemed: `Err` carries the reset.
pub(crate) async fn apply_token_faults(
    shared: &Shared,
    kill: Option<&ConnectionKill>,
) -> Result<(), Response> {
    let fate = shared.lock().draw_token_fate();
    if let Some(gate) = shared.take_token_hold() {
        gate.hold().await;
    }
    match fate {
        TokenFate::Answer => Ok(()),
        TokenFate::Reset => Err(reset_connection(kill).await),
        TokenFate::Delay(delay) => {
            // Hyper drops this future when the client hangs up meanwhile: the guard counts it.
            let abandoned = AbandonedGuard {
                shared,
                waiting: true,
            };
            tokio::time::sleep(shared.clock.real_duration(delay)).await;
            abandoned.disarm();
            Ok(())
        }
    }
}

/// Counts a delayed token request as abandoned unless it lived to the end of its delay.
struct AbandonedGuard<'a> {
    shared: &'a Shared,
    waiting: bool,
}

impl AbandonedGuard<'_> {
    fn disarm(mut self) {
        self.waiting = false;
    }
}

impl Drop for AbandonedGuard<'_> {
    fn drop(&mut self) {
        if self.waiting {
            self.shared.lock().count_abandoned_token_request();
        }
    }
}
