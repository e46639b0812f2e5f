//! Started code-flow authorizations in Redis: one sorted set per portal (state -> expiry in
//! microseconds on the Redis server's clock), bounded per portal, each state taken once by a script.

use std::time::Duration;

use imconnector_transport::authorization::AuthorizationState;
use imconnector_transport::portals::MAX_AUTHORIZATIONS_PER_PORTAL;

use crate::{backend::RedisBackend, error::RedisBackendError, keys::PortalKeys};

/// The longest lifetime kept (a longer one is cut to it): a day, far beyond any sign-in.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

impl RedisBackend {
    /// Keeps `state` for portal `member_id` for `lifetime`; the portal's oldest goes beyond
    /// [`MAX_AUTHORIZATIONS_PER_PORTAL`].
    pub(crate) async fn save_authorization(
        &self,
        member_id: &str,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> Result<(), RedisBackendError> {
        let keys = PortalKeys::new(self.key_prefix(), member_id)?;
        let lifetime_micros = u64::try_from(lifetime.min(MAX_LIFETIME).as_micros()).unwrap_or(0);
        let mut invocation = self.scripts().authorization_save.key(&keys.authorizations);
        invocation
            .arg(state.expose())
            .arg(lifetime_micros)
            .arg(MAX_AUTHORIZATIONS_PER_PORTAL);
        invocation
            .invoke_async::<u8>(&mut self.connection())
            .await
            .map_err(RedisBackendError::redis("keep a started authorization"))?;
        Ok(())
    }

    /// Whether `returned` was kept for `member_id` and alive; it is gone afterwards.
    pub(crate) async fn take_authorization(
        &self,
        member_id: &str,
        returned: &str,
    ) -> Result<bool, RedisBackendError> {
        if returned.is_empty() {
            return Ok(false);
        }
        let keys = PortalKeys::new(self.key_prefix(), member_id)?;
        let mut invocation = self.scripts().authorization_take.key(&keys.authorizations);
        invocation.arg(returned);
        let taken = invocation
            .invoke_async::<u8>(&mut self.connection())
            .await
            .map_err(RedisBackendError::redis("take a started authorization"))?;
        Ok(taken == 1)
    }
}
