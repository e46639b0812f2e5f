//! Issue 21's offline scenario: the connector has no event URL at all. Its events are bound
//! offline (the portal keeps them in its offline queue), and an [`OfflinePoller`] reads them,
//! its `process_id` kept in Redis (`RedisOfflineCursors`, as the Redis README configures it),
//! into the inbound pipeline, whose handler applies the keyed effect ([`EffectHandler`]).
//! A row is cleared only once handled and confirmed; after a SIGKILL the next life resumes the
//! stored `process_id` and gets the unsettled rows again (their handler runs again: the effect
//! is keyed). It prints `ready` once it polls, and drains and prints `done` when its stdin
//! closes (the graceful stop of the last run; the others are SIGKILLed).

use std::time::Duration;

use imconnector::inbound::InboundOptions;
use imconnector::offline::OfflinePoller;
use imconnector::prelude::*;
use imconnector::EventDelivery;
use imconnector_tests::kill::{Plan, Report, CONNECTOR};
use tokio::io::AsyncReadExt;

use crate::connect::client;
use crate::effect::EffectHandler;
use crate::BoxError;

/// How long the last run may take to handle, confirm and clear what is left.
const DRAIN_DEADLINE: Duration = Duration::from_secs(120);
/// Without a wake-up URL the poller reads on its timer.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The confirmations of a batch gather this long before their `batch` call.
const CONFIRM_LINGER: Duration = Duration::from_millis(100);

pub async fn run(plan: &Plan) -> Result<(), BoxError> {
    let inbound = plan
        .inbound
        .as_ref()
        .ok_or("the offline scenario needs the plan's `inbound` part")?;
    let (redis, client) = client(plan).await?;
    provision_offline(&client).await?;
    let handler = EffectHandler::new(
        redis.connection(),
        &plan.redis.key_prefix,
        &inbound.consumer,
        Duration::from_millis(inbound.handler_delay_ms),
    );
    let poller = OfflinePoller::new(handler, redis.offline_cursors())
        .interval(POLL_INTERVAL)
        .options(InboundOptions::new().confirm_linger(CONFIRM_LINGER));
    let domain = url_host(&plan.portal.rest_url);
    poller.add_portal(
        MemberId::from(plan.portal.member_id.as_str()),
        domain,
        client,
    );
    Report::Ready.print();
    stdin_closed().await;
    let drained = poller.shutdown(DRAIN_DEADLINE).await;
    if !drained.is_complete() {
        return Err(format!("the pipeline did not drain: {drained:?}").into());
    }
    Report::Done.print();
    Ok(())
}

/// Registers and activates the connector on the line and binds its events offline (no URL
/// listens; no `OnOfflineEvent` wake-up): idempotent, run at every start.
async fn provision_offline(client: &Client) -> Result<(), BoxError> {
    let setup = ConnectorSetup::new(
        ConnectorId::new(CONNECTOR)?,
        "Kill test",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        SettingsUrl::parse("http://127.0.0.1:9/settings")?,
        // Nobody listens here: offline bindings only need a URL to exist.
        EventsUrl::parse("http://127.0.0.1:9/events")?,
    )
    .with_delivery(EventDelivery::Offline)
    .with_offline_wakeup(false);
    provision(client, &setup, imconnector_tests::kill::line()).await?;
    Ok(())
}

/// The portal's domain, for the events' `auth.domain`: the REST URL's host.
fn url_host(rest_url: &str) -> String {
    rest_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("localhost")
        .to_owned()
}

/// Completes when the parent closes our stdin: the graceful stop.
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while matches!(stdin.read(&mut buffer).await, Ok(read) if read > 0) {}
}
