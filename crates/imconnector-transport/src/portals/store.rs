//! [`PortalStore`]: where the registry keeps its records; [`MemoryPortalStore`] for one process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use secrecy::SecretString;

use crate::authorization::AuthorizationState;
use crate::hook_error::storage_hook_error;
use crate::{ClientBuilder, InvalidRequest, MemberId};

use super::authorizations::{MemoryAuthorizations, StateSaved, MAX_AUTHORIZATIONS_PER_PORTAL};
use super::PortalRecord;

storage_hook_error!(
    /// Why a [`PortalStore`] failed.
    PortalStoreError,
    "portal store"
);

/// Where the registry keeps its [`PortalRecord`]s, and what it adds to each portal's client.
pub trait PortalStore: Send + Sync + 'static {
    /// The record of portal `member_id` with its current token pair, `None` if not installed.
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send;

    /// Stores `record`, replacing the portal's record and token pair (an installation wins
    /// over everything stored before).
    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Forgets portal `member_id` (the application was uninstalled).
    fn remove(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// The `member_id` of every stored portal, in no particular order: what a start-up
    /// reconciler or a keep-alive walks.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn list(&self) -> impl Future<Output = Result<Vec<MemberId>, PortalStoreError>> + Send;

    /// Records whether the connector is provisioned on portal `member_id`
    /// ([`PortalRecord::provisioned`]) without touching its token pair. [`save`](Self::save)
    /// stores a record's own flag (an installation starts with `false`). Nothing happens for a
    /// portal that is not stored.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn set_provisioned(
        &self,
        member_id: &MemberId,
        provisioned: bool,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send;

    /// Gives installed portal `member_id` the application token `token` if it has none yet
    /// (stored empty by an install POST of the older shape, which carries no
    /// `APPLICATION_TOKEN`), without touching its token pair: `true` when it was filled. A
    /// token already stored is never replaced this way (only an installation's
    /// [`save`](Self::save) does that), and a portal not stored is left alone.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send;

    /// Keeps `state`, a code-flow authorization started for installed portal `member_id`, for
    /// `lifetime`, so that the portal's redirect back may reach any replica sharing the store.
    ///
    /// Keeps at most [`MAX_AUTHORIZATIONS_PER_PORTAL`] per portal: a newer one drops *that
    /// portal's* oldest, never another portal's, since anyone may start an authorization. A
    /// store may also bound its total; when that is reached with other portals' live states it
    /// answers [`StateSaved::StoreFull`] and drops nothing.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn save_authorization_state(
        &self,
        member_id: &MemberId,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> impl Future<Output = Result<StateSaved, PortalStoreError>> + Send;

    /// Takes the state `returned` by the portal's redirect: `true` when it was kept for portal
    /// `member_id` and has not expired. It is removed in the same atomic step, so a state is
    /// used once: of two takes, even on two replicas at once, at most one gets `true`.
    ///
    /// # Errors
    /// When the store cannot be reached.
    fn take_authorization_state(
        &self,
        member_id: &MemberId,
        returned: &str,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send;

    /// Adds what the store shares between replicas (token store, refresh coordination, a
    /// shared limiter) to a portal's client. The default adds nothing.
    ///
    /// # Errors
    /// When the store cannot serve this portal.
    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        let _ = record;
        Ok(builder)
    }
}

/// Keeps records and started code-flow authorizations in this process only: for one replica
/// (or several sharing one `Arc` of it), or tests.
#[derive(Debug, Default)]
pub struct MemoryPortalStore {
    records: Mutex<HashMap<MemberId, PortalRecord>>,
    authorizations: MemoryAuthorizations,
}

impl MemoryPortalStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `total` started code-flow authorizations of all portals (default
    /// [`DEFAULT_MAX_AUTHORIZATIONS`](super::DEFAULT_MAX_AUTHORIZATIONS)); at least [`MAX_AUTHORIZATIONS_PER_PORTAL`], so one
    /// portal's cannot fill it.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming `total` when it is below [`MAX_AUTHORIZATIONS_PER_PORTAL`].
    pub fn max_authorizations(mut self, total: usize) -> Result<Self, InvalidRequest> {
        if total < MAX_AUTHORIZATIONS_PER_PORTAL {
            return Err(InvalidRequest::new(
                "total",
                format!("must be at least {MAX_AUTHORIZATIONS_PER_PORTAL} (one portal's share)"),
            ));
        }
        self.authorizations = MemoryAuthorizations::new(total);
        Ok(self)
    }
}

impl PortalStore for MemoryPortalStore {
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send {
        let found = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(member_id)
            .cloned();
        async move { Ok(found) }
    }

    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(record.member_id.clone(), record.clone());
        async { Ok(()) }
    }

    fn remove(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(member_id);
        self.authorizations.forget(member_id.as_str());
        async { Ok(()) }
    }

    fn list(&self) -> impl Future<Output = Result<Vec<MemberId>, PortalStoreError>> + Send {
        let members = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        async move { Ok(members) }
    }

    fn set_provisioned(
        &self,
        member_id: &MemberId,
        provisioned: bool,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        if let Some(record) = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(member_id)
        {
            record.provisioned = provisioned;
        }
        async { Ok(()) }
    }

    fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send {
        let filled = self
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(member_id)
            .is_some_and(|record| record.fill_application_token(token));
        async move { Ok(filled) }
    }

    fn save_authorization_state(
        &self,
        member_id: &MemberId,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> impl Future<Output = Result<StateSaved, PortalStoreError>> + Send {
        let saved = self
            .authorizations
            .save(member_id.as_str(), state, lifetime);
        async move { Ok(saved) }
    }

    fn take_authorization_state(
        &self,
        member_id: &MemberId,
        returned: &str,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send {
        let taken = self.authorizations.take(member_id.as_str(), returned);
        async move { Ok(taken) }
    }
}

/// A shared store is a store: replicas in one process (or tests) may share one `Arc`.
impl<S: PortalStore> PortalStore for std::sync::Arc<S> {
    fn load(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<Option<PortalRecord>, PortalStoreError>> + Send {
        S::load(self, member_id)
    }

    fn save(
        &self,
        record: &PortalRecord,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        S::save(self, record)
    }

    fn remove(
        &self,
        member_id: &MemberId,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        S::remove(self, member_id)
    }

    fn list(&self) -> impl Future<Output = Result<Vec<MemberId>, PortalStoreError>> + Send {
        S::list(self)
    }

    fn set_provisioned(
        &self,
        member_id: &MemberId,
        provisioned: bool,
    ) -> impl Future<Output = Result<(), PortalStoreError>> + Send {
        S::set_provisioned(self, member_id, provisioned)
    }

    fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send {
        S::fill_application_token(self, member_id, token)
    }

    fn save_authorization_state(
        &self,
        member_id: &MemberId,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> impl Future<Output = Result<StateSaved, PortalStoreError>> + Send {
        S::save_authorization_state(self, member_id, state, lifetime)
    }

    fn take_authorization_state(
        &self,
        member_id: &MemberId,
        returned: &str,
    ) -> impl Future<Output = Result<bool, PortalStoreError>> + Send {
        S::take_authorization_state(self, member_id, returned)
    }

    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        S::configure(self, record, builder)
    }
}
