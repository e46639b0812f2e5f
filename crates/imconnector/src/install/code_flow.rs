//! The authorization-code flow for a portal already installed (to re-obtain its tokens, e.g.
//! after 180 days without a refresh): `authorize?member_id=…` → the portal's authorize page →
//! `oauth?code=…&state=…&domain=…&member_id=…` → tokens.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use imconnector_transport::authorization::AuthorizationState;
use imconnector_transport::portals::{PortalStore, RegistryError};
use url::Url;

use super::flow::check_portal;
use super::{InstallError, Installer};
use crate::log_text::untrusted;

/// How long a started authorization waits for the portal's redirect.
const STATE_LIFETIME: Duration = Duration::from_secs(600);
/// Anyone may start an authorization: the oldest are dropped beyond this many.
const MAX_PENDING: usize = 1024;

struct Started {
    state: AuthorizationState,
    member_id: String,
    at: Instant,
}

/// The states of started authorizations, each used once.
#[derive(Default)]
pub(crate) struct Pending {
    started: Mutex<Vec<Started>>,
}

impl Pending {
    fn start(&self, member_id: &str) -> AuthorizationState {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        started.retain(|entry| entry.at.elapsed() < STATE_LIFETIME);
        if started.len() >= MAX_PENDING {
            started.remove(0);
        }
        let state = AuthorizationState::random();
        started.push(Started {
            state: state.clone(),
            member_id: member_id.to_owned(),
            at: Instant::now(),
        });
        state
    }

    /// The portal the returned `state` was started for; the state is used up.
    fn take(&self, returned: &str) -> Option<String> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        started.retain(|entry| entry.at.elapsed() < STATE_LIFETIME);
        let position = started
            .iter()
            .position(|entry| entry.state.matches(returned))?;
        Some(started.remove(position).member_id)
    }
}

impl<S: PortalStore> Installer<S> {
    /// The portal's authorize URL for installed portal `member_id`, with a new state.
    pub(crate) async fn start_authorization(&self, member_id: &str) -> Result<Url, InstallError> {
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
        let state = self.pending.start(member_id);
        tracing::info!(member_id = %untrusted(member_id), "authorization started");
        self.oauth
            .authorize_url(&portal, &state)
            .map_err(|error| InstallError::Malformed(error.to_string()))
    }

    /// The portal's redirect: checks the state, trades the code, replaces the portal's tokens.
    pub(crate) async fn finish_authorization(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<String, InstallError> {
        let field = |key: &str| {
            params
                .get(key)
                .filter(|value| !value.is_empty())
                .ok_or_else(|| InstallError::Malformed(format!("the redirect has no `{key}`")))
        };
        let (code, state) = (field("code")?, field("state")?);
        let (domain, member_id) = (field("domain")?, field("member_id")?);
        let started_for = self
            .pending
            .take(state)
            .ok_or_else(|| InstallError::Unproven("unknown, used or expired state".to_owned()))?;
        if &started_for != member_id {
            return Err(InstallError::Unproven(
                "the state was issued for another portal".to_owned(),
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
