//! The client and the connector's setup, as every start of the connector makes them.

use std::time::Duration;

use imconnector::prelude::*;
use imconnector::RetryPolicy;
use imconnector_redis::RedisBackend;
use imconnector_tests::kill::{Plan, CONNECTOR};

use crate::BoxError;

/// The portal's client: the pair the token store holds (installation stored the first one;
/// every refresh since replaced it), with Redis as token store and refresh lock.
pub async fn client(plan: &Plan) -> Result<(RedisBackend, Client), BoxError> {
    let redis = RedisBackend::builder(&plan.portal.client_id)
        .key_prefix(&plan.redis.key_prefix)
        .connect(&plan.redis.url)
        .await?;
    let member_id = &plan.portal.member_id;
    let stored = redis
        .token_store(member_id)?
        .load_versioned()
        .await?
        .ok_or("the portal is not installed: no token pair in the store")?;
    let app = OAuthApp::new(&plan.portal.client_id, &plan.portal.client_secret);
    let builder = Client::builder()
        .oauth(app, stored.tokens)
        .oauth_server(&plan.portal.oauth_url)
        // Short waits between retries: the tests spend their time on behaviour.
        .retry_policy(
            RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(20))
                .with_max_backoff(Duration::from_millis(500)),
        );
    // The emulator runs without a rate limit: no bucket to share.
    let client = redis
        .configure(member_id, RateLimit::Off, builder)?
        .build()?;
    Ok((redis, client))
}

/// Registers and activates the connector on the line and binds its events to `events_url`:
/// idempotent, run at every start.
pub async fn provision_connector(client: &Client, events_url: &str) -> Result<(), BoxError> {
    let icon = Icon::new("data:image/svg+xml,%3Csvg%2F%3E");
    let setup = ConnectorSetup::new(
        ConnectorId::new(CONNECTOR)?,
        "Kill test",
        icon,
        SettingsUrl::parse("http://127.0.0.1:9/settings")?,
        EventsUrl::parse(events_url)?,
    );
    provision(client, &setup, imconnector_tests::kill::line()).await?;
    Ok(())
}
