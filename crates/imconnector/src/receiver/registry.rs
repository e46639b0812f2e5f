//! The portal registry as the receiver's source of application tokens and portal clients: an
//! event is accepted only with the application token stored for the `member_id` it claims (so a
//! forged `member_id` is refused), and deliveries are confirmed with the client of the portal
//! the event came from.

use imconnector_transport::portals::{PortalRegistry, PortalStore};
use imconnector_transport::{Client, MemberId};
use secrecy::SecretString;

use super::{ApplicationTokens, PortalClients};
use crate::log_text::{untrusted, TOKEN_LOOKUP_FAILURES};

impl<S: PortalStore> ApplicationTokens for PortalRegistry<S> {
    async fn application_token(&self, member_id: &MemberId) -> Option<SecretString> {
        match PortalRegistry::application_token(self, member_id).await {
            Ok(token) => token,
            Err(error) => {
                // The portal does not resend a refused event: while the store is unreachable,
                // verify with the token it last gave (only its answers and installations fill
                // that, never an event's claim). Forged POSTs reach this too: rate-limited.
                let known = self.last_known_application_token(member_id);
                if let Some(suppressed) = TOKEN_LOOKUP_FAILURES.admit() {
                    if known.is_some() {
                        tracing::warn!(
                            error = %untrusted(&error),
                            member_id = %untrusted(member_id),
                            suppressed,
                            "cannot look up the application token; verifying with the one last stored"
                        );
                    } else {
                        tracing::error!(
                            error = %untrusted(&error),
                            member_id = %untrusted(member_id),
                            suppressed,
                            "cannot look up the application token; refusing the event"
                        );
                    }
                }
                known
            }
        }
    }
}

impl<S: PortalStore> PortalClients for PortalRegistry<S> {
    async fn client(&self, member_id: &MemberId) -> Option<Client> {
        match PortalRegistry::client_for(self, member_id).await {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::warn!(error = %untrusted(&error), member_id = %untrusted(member_id), "no client for this portal");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use imconnector_transport::authorization::AuthorizationState;
    use imconnector_transport::portals::{
        MemoryPortalStore, PortalRecord, PortalRegistry, PortalStore, PortalStoreError, StateSaved,
        DEFAULT_KNOWN_TOKENS,
    };
    use imconnector_transport::{MemberId, OAuthApp};
    use secrecy::SecretString;
    use serde_json::json;

    use crate::receiver::{verify_event, Rejection};

    fn install_event(member_id: &str, token: &str) -> serde_json::Value {
        json!({
            "event": "ONAPPINSTALL",
            "auth": {
                "access_token": format!("access-{member_id}"),
                "refresh_token": format!("refresh-{member_id}"),
                "expires": "1900000000",
                "client_endpoint": format!("https://{member_id}.example/rest/"),
                "domain": format!("{member_id}.example"),
                "member_id": member_id,
                "application_token": token,
            }
        })
    }

    fn registry() -> PortalRegistry<MemoryPortalStore> {
        PortalRegistry::new(OAuthApp::new("app.id", "secret"), MemoryPortalStore::new())
    }

    fn line_delete(member: &str, token: &str) -> String {
        imconnector_form::encode(&json!({
            "event": "ONIMCONNECTORLINEDELETE",
            "event_handler_id": "563",
            "data": "107",
            "ts": "1773761165",
            "auth": {"domain": "portal.example", "member_id": member, "application_token": token},
        }))
    }

    /// A memory store that can be made unreachable.
    #[derive(Default)]
    struct FlakyStore {
        inner: MemoryPortalStore,
        down: AtomicBool,
    }

    impl FlakyStore {
        fn check(&self) -> Result<(), PortalStoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(PortalStoreError::new("connection refused", None))
            } else {
                Ok(())
            }
        }
    }

    impl PortalStore for FlakyStore {
        async fn load(
            &self,
            member_id: &MemberId,
        ) -> Result<Option<PortalRecord>, PortalStoreError> {
            self.check()?;
            self.inner.load(member_id).await
        }

        async fn save(&self, record: &PortalRecord) -> Result<(), PortalStoreError> {
            self.check()?;
            self.inner.save(record).await
        }

        async fn remove(&self, member_id: &MemberId) -> Result<(), PortalStoreError> {
            self.check()?;
            self.inner.remove(member_id).await
        }

        async fn list(&self) -> Result<Vec<MemberId>, PortalStoreError> {
            self.check()?;
            self.inner.list().await
        }

        async fn set_provisioned(
            &self,
            member_id: &MemberId,
            provisioned: bool,
        ) -> Result<(), PortalStoreError> {
            self.check()?;
            self.inner.set_provisioned(member_id, provisioned).await
        }

        async fn fill_application_token(
            &self,
            member_id: &MemberId,
            token: &SecretString,
        ) -> Result<bool, PortalStoreError> {
            self.check()?;
            self.inner.fill_application_token(member_id, token).await
        }

        async fn save_authorization_state(
            &self,
            member_id: &MemberId,
            state: &AuthorizationState,
            lifetime: Duration,
        ) -> Result<StateSaved, PortalStoreError> {
            self.check()?;
            self.inner
                .save_authorization_state(member_id, state, lifetime)
                .await
        }

        async fn take_authorization_state(
            &self,
            member_id: &MemberId,
            returned: &str,
        ) -> Result<bool, PortalStoreError> {
            self.check()?;
            self.inner
                .take_authorization_state(member_id, returned)
                .await
        }
    }

    async fn flaky_registry(known: usize) -> PortalRegistry<FlakyStore> {
        let registry =
            PortalRegistry::new(OAuthApp::new("app.id", "secret"), FlakyStore::default())
                .known_application_tokens(known, Duration::from_secs(3600));
        for (member, token) in [("portal-a", "token-a"), ("portal-b", "token-b")] {
            let record = PortalRecord::from_install_event(&install_event(member, token)).unwrap();
            registry.install(record).await.unwrap();
        }
        registry
    }

    #[tokio::test]
    async fn while_the_store_is_down_genuine_events_pass_on_the_last_stored_token() {
        let registry = flaky_registry(DEFAULT_KNOWN_TOKENS).await;
        registry.store().down.store(true, Ordering::SeqCst);
        // Before the fix every event got 401 while the store was unreachable.
        for (member, token) in [("portal-a", "token-a"), ("portal-b", "token-b")] {
            let event = line_delete(member, token);
            assert!(
                verify_event(&registry, None, event.as_bytes())
                    .await
                    .is_ok(),
                "{member}"
            );
        }
        for (member, token) in [
            ("portal-a", "token-b"),
            ("portal-c", "token-a"),
            ("", "token-a"),
        ] {
            let refused = verify_event(&registry, None, line_delete(member, token).as_bytes())
                .await
                .unwrap_err();
            assert!(matches!(refused, Rejection::Unauthorized(_)), "{member}");
        }
        // The store's answer wins once it is back: an uninstall is seen at once.
        registry.store().down.store(false, Ordering::SeqCst);
        registry
            .store()
            .inner
            .remove(&MemberId::from("portal-a"))
            .await
            .unwrap();
        let event = line_delete("portal-a", "token-a");
        assert!(verify_event(&registry, None, event.as_bytes())
            .await
            .is_err());
        registry.store().down.store(true, Ordering::SeqCst);
        assert!(
            verify_event(&registry, None, event.as_bytes())
                .await
                .is_err(),
            "a portal the store said is gone is not remembered"
        );
    }

    #[tokio::test]
    async fn without_known_tokens_a_store_outage_refuses_every_event() {
        let registry = flaky_registry(0).await;
        registry.store().down.store(true, Ordering::SeqCst);
        let event = line_delete("portal-a", "token-a");
        assert!(verify_event(&registry, None, event.as_bytes())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn an_event_is_verified_with_the_token_of_the_portal_it_claims() {
        let registry = registry();
        for (member, token) in [("portal-a", "token-a"), ("portal-b", "token-b")] {
            let record = PortalRecord::from_install_event(&install_event(member, token)).unwrap();
            registry.install(record).await.unwrap();
        }
        let event = line_delete;
        assert!(
            verify_event(&registry, None, event("portal-a", "token-a").as_bytes())
                .await
                .is_ok()
        );
        assert!(
            verify_event(&registry, None, event("portal-b", "token-b").as_bytes())
                .await
                .is_ok()
        );
        for (member, token) in [
            ("portal-b", "token-a"),
            ("portal-c", "token-a"),
            ("", "token-a"),
        ] {
            let refused = verify_event(&registry, None, event(member, token).as_bytes())
                .await
                .unwrap_err();
            assert!(
                matches!(refused, Rejection::Unauthorized(_)),
                "{member}: {refused}"
            );
        }
    }
}
