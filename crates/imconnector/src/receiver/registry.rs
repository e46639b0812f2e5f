//! The portal registry as the receiver's source of application tokens and portal clients: an
//! event is accepted only with the application token stored for the `member_id` it claims (so a
//! forged `member_id` is refused), and deliveries are confirmed with the client of the portal
//! the event came from.

use imconnector_transport::portals::{PortalRegistry, PortalStore};
use imconnector_transport::Client;
use secrecy::SecretString;

use super::{ApplicationTokens, PortalClients};
use crate::log_text::{untrusted, TOKEN_LOOKUP_FAILURES};

impl<S: PortalStore> ApplicationTokens for PortalRegistry<S> {
    async fn application_token(&self, member_id: &str) -> Option<SecretString> {
        match PortalRegistry::application_token(self, member_id).await {
            Ok(token) => token,
            Err(error) => {
                // Refusing is the safe answer; the portal does not retry, so say why.
                if let Some(suppressed) = TOKEN_LOOKUP_FAILURES.admit() {
                    tracing::error!(
                        error = %untrusted(&error),
                        member_id = %untrusted(member_id),
                        suppressed,
                        "cannot look up the application token; refusing the event"
                    );
                }
                None
            }
        }
    }
}

impl<S: PortalStore> PortalClients for PortalRegistry<S> {
    async fn client(&self, member_id: &str) -> Option<Client> {
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

    use imconnector_transport::portals::{MemoryPortalStore, PortalRecord, PortalRegistry};
    use imconnector_transport::OAuthApp;
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

    #[tokio::test]
    async fn an_event_is_verified_with_the_token_of_the_portal_it_claims() {
        let registry = registry();
        for (member, token) in [("portal-a", "token-a"), ("portal-b", "token-b")] {
            let record = PortalRecord::from_install_event(&install_event(member, token)).unwrap();
            registry.install(record).await.unwrap();
        }
        let event = |member: &str, token: &str| {
            imconnector_form::encode(&json!({
                "event": "ONIMCONNECTORLINEDELETE",
                "event_handler_id": "563",
                "data": "107",
                "ts": "1773761165",
                "auth": {"domain": "portal.example", "member_id": member, "application_token": token},
            }))
        };
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
