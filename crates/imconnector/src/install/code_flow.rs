//! The authorization-code flow for a portal already installed (to re-obtain its tokens, e.g.
//! after 180 days without a refresh): `authorize?member_id=…` → the portal's authorize page →
//! `oauth?code=…&state=…&domain=…&member_id=…` → tokens.

use std::collections::HashMap;
use std::time::Duration;

use imconnector_transport::authorization::AuthorizationState;
use imconnector_transport::portals::{PortalStore, RegistryError, StateSaved};
use imconnector_transport::MemberId;
use url::Url;

use super::flow::check_portal;
use super::{InstallError, Installer};
use crate::log_text::untrusted;

/// How long a started authorization waits for the portal's redirect, by default.
pub const DEFAULT_AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(600);
/// The longest [`Installer::authorization_lifetime`] accepted.
pub(crate) const MAX_AUTHORIZATION_LIFETIME: Duration = Duration::from_secs(3600);

impl<S: PortalStore> Installer<S> {
    /// The portal's authorize URL for installed portal `member_id`, with a new state.
    pub(crate) async fn start_authorization(
        &self,
        member_id: &MemberId,
    ) -> Result<Url, InstallError> {
        let record = self
            .registry
            .store()
            .load(member_id)
            .await
            .map_err(RegistryError::from)?
            .ok_or_else(|| InstallError::NotInstalled(member_id.to_owned()))?;
        // The portal's origin from its REST base, so an http emulator works as an https portal.
        let portal = record
            .tokens
            .client_endpoint
            .as_deref()
            .and_then(|endpoint| Url::parse(endpoint).ok())
            .map(|url| url.origin().ascii_serialization())
            .or(record.domain)
            .ok_or_else(|| InstallError::NotInstalled(member_id.to_owned()))?;
        // Only an installed portal's state is kept (checked above), at most a bounded number per
        // portal in the store, so the redirect may come back to any replica sharing it.
        let state = AuthorizationState::random();
        let saved = self
            .registry
            .store()
            .save_authorization_state(member_id, &state, self.authorization_lifetime)
            .await
            .map_err(RegistryError::from)?;
        if saved == StateSaved::StoreFull {
            return Err(InstallError::TooManyAuthorizations);
        }
        tracing::info!(member_id = %untrusted(member_id), "authorization started");
        self.oauth
            .authorize_url(&portal, &state)
            .map_err(|error| InstallError::Malformed(error.to_string()))
    }

    /// The portal's redirect: checks the state, trades the code, replaces the portal's tokens.
    pub(crate) async fn finish_authorization(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<MemberId, InstallError> {
        let field = |key: &str| {
            params
                .get(key)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| InstallError::Malformed(format!("the redirect has no `{key}`")))
        };
        let (code, state) = (field("code")?, field("state")?);
        let (domain, member_id) = (field("domain")?, field("member_id")?);
        let member_id = &MemberId::from(member_id.as_str());
        // Used up here even if the rest fails: a state is good for one redirect.
        let taken = self
            .registry
            .store()
            .take_authorization_state(member_id, state)
            .await
            .map_err(RegistryError::from)?;
        if !taken {
            return Err(InstallError::Unproven(
                "unknown, used or expired state, or one issued for another portal".to_owned(),
            ));
        }
        let fresh = self
            .oauth
            .exchange_code(code)
            .await
            .map_err(InstallError::from_authorization)?;
        check_portal(&fresh, member_id, domain)?;
        // Any user may finish a code flow someone started: only an administrator's pair
        // replaces the stored one.
        let (_, fresh) = self.require_administrator(fresh).await?;
        self.replace_tokens(member_id, fresh).await?;
        tracing::info!(member_id = %untrusted(&member_id), "authorization finished; the portal's tokens are replaced");
        Ok(member_id.clone())
    }
}
