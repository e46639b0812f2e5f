//! Injected faults, applied to a request before and after it is processed: latency, an HTML
//! 500, `QUERY_LIMIT_EXCEEDED`, or a reset connection. What happens is drawn under the lock
//! from the portal's seeded [`FaultEngine`](crate::state::fault_engine::FaultEngine).

use axum::response::Response;

use crate::envelope::{error_response, html_500, ApiError};
use crate::server::ConnectionKill;
use crate::state::fault_engine::{Endpoint, FaultAction};
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
