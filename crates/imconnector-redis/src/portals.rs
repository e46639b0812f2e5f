//! [`RedisPortals`]: the facade's portal registry kept in Redis (feature `portals`).

use std::time::Duration;

use imconnector_transport::authorization::AuthorizationState;
use imconnector_transport::portals::{PortalRecord, PortalStore, PortalStoreError, StateSaved};
use imconnector_transport::{
    secrecy::{ExposeSecret, SecretString},
    ClientBuilder, MemberId, OAuthApp, RateLimit,
};
use serde::{Deserialize, Serialize};

use crate::{
    backend::RedisBackend,
    error::RedisBackendError,
    keys::{portal_index, PortalKeys},
};

/// A [`PortalStore`] in Redis: every replica sees every installed portal, and each portal's
/// client gets the portal's [`RedisTokenStore`](crate::RedisTokenStore),
/// [`RedisRefreshLock`](crate::RedisRefreshLock) and [`SharedBucket`](crate::SharedBucket).
///
/// A record is a JSON string next to the portal's token hash; the token pair itself lives in the
/// token hash, so [`load`](PortalStore::load) always returns the newest pair. Saving a record
/// stores its pair with [`RedisTokenStore::replace`](crate::RedisTokenStore::replace): an
/// installation outranks every pair before it.
///
/// Started code-flow authorizations live in a sorted set per portal (`…:{member_id}:authorizations`,
/// state -> expiry on the Redis server's clock), so the portal's redirect may reach any replica:
/// at most [`MAX_AUTHORIZATIONS_PER_PORTAL`](imconnector_transport::portals::MAX_AUTHORIZATIONS_PER_PORTAL)
/// per portal (a portal's oldest makes room, never another portal's), each taken once by a
/// script, the set expiring with its last state. Only installed portals get one, so there are at
/// most that many per installed portal.
#[derive(Debug, Clone)]
pub struct RedisPortals {
    backend: RedisBackend,
    /// `None`: each portal's bucket follows its plan.
    rate_limit: Option<RateLimit>,
}

impl RedisBackend {
    /// A portal store on this backend; each portal's requests share one bucket for
    /// `rate_limit`, the same for every portal (see [`portals_by_plan`](Self::portals_by_plan)).
    pub fn portals(&self, rate_limit: RateLimit) -> RedisPortals {
        RedisPortals {
            backend: self.clone(),
            rate_limit: Some(rate_limit),
        }
    }

    /// A portal store on this backend whose portals' shared buckets each follow the portal's
    /// plan, without configuration: each portal's client asks `app.info` once and paces by its
    /// bucket (Enterprise 250 + 5/s, every other plan 50 + 2/s; see
    /// [`RedisBackend::configure_by_plan`]). Give the registry's client template no
    /// `rate_limit`, or it wins.
    pub fn portals_by_plan(&self) -> RedisPortals {
        RedisPortals {
            backend: self.clone(),
            rate_limit: None,
        }
    }
}

/// The stored form of a record without its token pair. Secrets are exposed only here.
#[derive(Serialize, Deserialize)]
struct StoredPortal {
    member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    application_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oauth_server: Option<String>,
}

fn store_error(error: RedisBackendError) -> PortalStoreError {
    PortalStoreError::new(error.to_string(), Some(Box::new(error)))
}

impl RedisPortals {
    async fn load_record(
        &self,
        member_id: &str,
    ) -> Result<Option<PortalRecord>, RedisBackendError> {
        let keys = PortalKeys::new(self.backend.key_prefix(), member_id)?;
        let text: Option<String> = redis::cmd("GET")
            .arg(&keys.portal)
            .query_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("read a portal record"))?;
        let Some(text) = text.map(SecretString::from) else {
            return Ok(None);
        };
        let malformed = |reason: String| RedisBackendError::Malformed {
            key: keys.portal.clone(),
            reason,
        };
        let stored: StoredPortal = serde_json::from_str(text.expose_secret()).map_err(|error| {
            malformed(format!(
                "not a portal record (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
        let tokens = self
            .backend
            .token_store(member_id)?
            .load_versioned()
            .await?
            .ok_or_else(|| malformed("the portal has no token pair".to_owned()))?;
        let provisioned: Option<String> = redis::cmd("GET")
            .arg(&keys.provisioned)
            .query_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("read a portal's provisioning"))?;
        let mut record =
            PortalRecord::new(stored.member_id, stored.application_token, tokens.tokens);
        record.provisioned = provisioned.is_some();
        record.domain = stored.domain;
        record.oauth_server = stored.oauth_server;
        if let (Some(client_id), Some(secret)) = (stored.client_id, stored.client_secret) {
            record.app = Some(OAuthApp::new(client_id, secret));
        }
        Ok(Some(record))
    }

    async fn save_record(&self, record: &PortalRecord) -> Result<(), RedisBackendError> {
        let keys = PortalKeys::new(self.backend.key_prefix(), record.member_id.as_str())?;
        self.backend
            .token_store(record.member_id.as_str())?
            .replace(&record.tokens)
            .await?;
        let stored = StoredPortal {
            member_id: record.member_id.as_str().to_owned(),
            domain: record.domain.clone(),
            application_token: record.application_token.expose_secret().to_owned(),
            client_id: record.app.as_ref().map(|app| app.client_id.clone()),
            client_secret: record
                .app
                .as_ref()
                .map(|app| app.client_secret.expose_secret().to_owned()),
            oauth_server: record.oauth_server.clone(),
        };
        // Serialising strings cannot fail.
        let text = SecretString::from(serde_json::to_string(&stored).unwrap_or_default());
        // Indexed first: a crash in between leaves an id without a record (skipped when
        // listed), never a record nobody lists. The index is another slot than the portal's
        // keys, so it is not part of the portal's transaction.
        redis::cmd("SADD")
            .arg(portal_index(self.backend.key_prefix()))
            .arg(record.member_id.as_str())
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("index a portal"))?;
        let mut write = redis::pipe();
        write
            .atomic()
            .cmd("SET")
            .arg(&keys.portal)
            .arg(text.expose_secret())
            .ignore();
        if record.provisioned {
            write.cmd("SET").arg(&keys.provisioned).arg("1").ignore();
        } else {
            write.cmd("DEL").arg(&keys.provisioned).ignore();
        }
        write
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("store a portal record"))
    }

    async fn list_records(&self) -> Result<Vec<String>, RedisBackendError> {
        redis::cmd("SMEMBERS")
            .arg(portal_index(self.backend.key_prefix()))
            .query_async(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("list the portals"))
    }

    async fn mark_provisioned(
        &self,
        member_id: &str,
        provisioned: bool,
    ) -> Result<(), RedisBackendError> {
        let keys = PortalKeys::new(self.backend.key_prefix(), member_id)?;
        self.backend
            .scripts()
            .mark_provisioned
            .key(&keys.portal)
            .key(&keys.provisioned)
            .arg(if provisioned { "1" } else { "0" })
            .invoke_async::<i64>(&mut self.backend.connection())
            .await
            .map(drop)
            .map_err(RedisBackendError::redis("mark a portal provisioned"))
    }

    async fn fill_token(
        &self,
        member_id: &str,
        token: &SecretString,
    ) -> Result<bool, RedisBackendError> {
        let keys = PortalKeys::new(self.backend.key_prefix(), member_id)?;
        // One script: a reinstall's SET between a read and a write here would otherwise be
        // overwritten with the older record.
        self.backend
            .scripts()
            .fill_application_token
            .key(&keys.portal)
            .arg(token.expose_secret())
            .invoke_async::<i64>(&mut self.backend.connection())
            .await
            .map(|filled| filled == 1)
            .map_err(RedisBackendError::redis(
                "fill in a portal's application token",
            ))
    }

    async fn remove_record(&self, member_id: &str) -> Result<(), RedisBackendError> {
        let keys = PortalKeys::new(self.backend.key_prefix(), member_id)?;
        // The token hash loses its pair but keeps its `fence` counter: versions must only grow,
        // or a refresh that drew its fence before the uninstall could, after a reinstall,
        // overwrite the new pair with its stale one.
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(&keys.portal)
            .arg(&keys.lock)
            .arg(&keys.bucket)
            .arg(&keys.authorizations)
            .arg(&keys.provisioned)
            .ignore()
            .cmd("HDEL")
            .arg(&keys.tokens)
            .arg("pair")
            .arg("version")
            .ignore()
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("remove a portal"))?;
        // Unindexed last: a crash in between leaves an id without a record, skipped when listed.
        redis::cmd("SREM")
            .arg(portal_index(self.backend.key_prefix()))
            .arg(member_id)
            .query_async::<()>(&mut self.backend.connection())
            .await
            .map_err(RedisBackendError::redis("unindex a portal"))
    }
}

impl PortalStore for RedisPortals {
    async fn load(&self, member_id: &MemberId) -> Result<Option<PortalRecord>, PortalStoreError> {
        self.load_record(member_id.as_str())
            .await
            .map_err(store_error)
    }

    async fn save(&self, record: &PortalRecord) -> Result<(), PortalStoreError> {
        self.save_record(record).await.map_err(store_error)
    }

    async fn remove(&self, member_id: &MemberId) -> Result<(), PortalStoreError> {
        self.remove_record(member_id.as_str())
            .await
            .map_err(store_error)
    }

    async fn list(&self) -> Result<Vec<MemberId>, PortalStoreError> {
        let members = self.list_records().await.map_err(store_error)?;
        Ok(members.into_iter().map(MemberId::from).collect())
    }

    async fn set_provisioned(
        &self,
        member_id: &MemberId,
        provisioned: bool,
    ) -> Result<(), PortalStoreError> {
        self.mark_provisioned(member_id.as_str(), provisioned)
            .await
            .map_err(store_error)
    }

    async fn fill_application_token(
        &self,
        member_id: &MemberId,
        token: &SecretString,
    ) -> Result<bool, PortalStoreError> {
        self.fill_token(member_id.as_str(), token)
            .await
            .map_err(store_error)
    }

    async fn save_authorization_state(
        &self,
        member_id: &MemberId,
        state: &AuthorizationState,
        lifetime: Duration,
    ) -> Result<StateSaved, PortalStoreError> {
        self.backend
            .save_authorization(member_id.as_str(), state, lifetime)
            .await
            .map_err(store_error)?;
        Ok(StateSaved::Kept)
    }

    async fn take_authorization_state(
        &self,
        member_id: &MemberId,
        returned: &str,
    ) -> Result<bool, PortalStoreError> {
        self.backend
            .take_authorization(member_id.as_str(), returned)
            .await
            .map_err(store_error)
    }

    fn configure(
        &self,
        record: &PortalRecord,
        builder: ClientBuilder,
    ) -> Result<ClientBuilder, PortalStoreError> {
        match self.rate_limit {
            Some(rate_limit) => {
                self.backend
                    .configure(record.member_id.as_str(), rate_limit, builder)
            }
            None => self
                .backend
                .configure_by_plan(record.member_id.as_str(), builder),
        }
        .map_err(store_error)
    }
}
