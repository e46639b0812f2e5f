//! Taking over an installed connector with genuine tokens: every employee who opens the app
//! gets a genuine pair of this app on this portal (user 2 of the emulator is no
//! administrator). Only an administrator installs or replaces tokens, and a frame POST never
//! replaces an installed portal's application token.

use imconnector::emulator::EmulatorTokens as Tokens;
use imconnector::portals::PortalRecord;
use imconnector::ExposeSecret;
use imconnector::MemberId;
use serde_json::json;

use super::support::{app, App, Style};
use crate::support::http;

/// The application token an attacker would choose.
const CHOSEN: &str = "00000000000000000000000000000000";
const ADMINISTRATOR: u64 = 1;
const EMPLOYEE: u64 = 2;

/// A UI app installed by the administrator (install POST, then installFinish and ONAPPINSTALL).
async fn installed() -> App {
    let app = app(Style::Ui).await;
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    app.portal
        .install_finish(&app.creds.client_id)
        .expect("installFinish");
    app.settle().await;
    assert!(app.record().await.is_some(), "installed");
    app
}

impl App {
    fn tokens_of(&self, user: u64) -> Tokens {
        self.portal
            .tokens_for(&self.creds.client_id, user)
            .expect("genuine tokens")
    }

    /// ONAPPINSTALL with `tokens` and `application_token`, otherwise as the portal sends it.
    fn onappinstall(&self, tokens: &Tokens, application_token: &str) -> String {
        imconnector_form::encode(&json!({
            "event": "ONAPPINSTALL",
            "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
            "ts": "1773761165",
            "auth": {
                "access_token": tokens.access_token.expose_secret(), "expires": "1900000000",
                "expires_in": "3600", "scope": "imopenlines,imconnector",
                "domain": self.creds.domain, "server_endpoint": self.portal.rest_url(),
                "status": "L", "client_endpoint": self.portal.rest_url(),
                "member_id": self.creds.member_id, "user_id": "2",
                "refresh_token": tokens.refresh_token.expose_secret(),
                "application_token": application_token,
            }
        }))
    }

    /// The install POST a frame sends, with `tokens` and `application_token`.
    async fn post_frame(&self, tokens: &Tokens, application_token: &str) -> (u16, String) {
        let url = format!(
            "{}?DOMAIN={}&PROTOCOL=0&LANG=en&APP_SID=0123456789abcdef",
            self.urls.install(),
            self.creds.domain
        );
        let body = imconnector_form::encode(&json!({
            "AUTH_ID": tokens.access_token.expose_secret(), "AUTH_EXPIRES": "3600",
            "REFRESH_ID": tokens.refresh_token.expose_secret(),
            "member_id": self.creds.member_id, "status": "L", "PLACEMENT": "DEFAULT",
            "SERVER_ENDPOINT": self.portal.rest_url(), "APPLICATION_TOKEN": application_token,
            "APPLICATION_SCOPE": "imopenlines,imconnector",
        }));
        self.post(&url, body).await
    }

    /// The stored record is `before`'s (same application token, same pair), the genuine
    /// application token is accepted on events and the chosen one refused.
    async fn assert_kept(&self, before: &PortalRecord) {
        let after = self.record().await.expect("still installed");
        assert_eq!(
            after.application_token.expose_secret(),
            before.application_token.expose_secret(),
            "the application token is unchanged"
        );
        assert_eq!(
            after.tokens.refresh_token.expose_secret(),
            before.tokens.refresh_token.expose_secret(),
            "the pair is unchanged"
        );
        let genuine = self.creds.application_token.expose_secret();
        assert_eq!(
            self.post_event(genuine).await,
            200,
            "genuine events accepted"
        );
        assert_eq!(self.post_event(CHOSEN).await, 401, "forged events refused");
    }
}

#[tokio::test]
async fn an_employees_onappinstall_with_a_chosen_application_token_is_refused() {
    let app = installed().await;
    let before = app.record().await.expect("installed");
    let employee = app.tokens_of(EMPLOYEE);
    let (status, text) = app
        .post(&app.urls.install(), app.onappinstall(&employee, CHOSEN))
        .await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("administrator"), "{text}");
    assert!(!text.contains(employee.refresh_token.expose_secret()));
    app.assert_kept(&before).await;
}

#[tokio::test]
async fn an_employees_install_post_with_a_chosen_application_token_is_refused() {
    let app = installed().await;
    let before = app.record().await.expect("installed");
    let (status, text) = app.post_frame(&app.tokens_of(EMPLOYEE), CHOSEN).await;
    assert_eq!(status, 403, "{text}");
    app.assert_kept(&before).await;
}

#[tokio::test]
async fn an_employee_cannot_install_a_portal_that_is_not_installed() {
    let app = app(Style::Ui).await;
    let employee = app.tokens_of(EMPLOYEE);
    let (status, text) = app.post_frame(&employee, CHOSEN).await;
    assert_eq!(status, 403, "{text}");
    let (status, text) = app
        .post(
            &app.urls.install(),
            app.onappinstall(&app.tokens_of(EMPLOYEE), CHOSEN),
        )
        .await;
    assert_eq!(status, 403, "{text}");
    app.assert_untouched().await;
}

#[tokio::test]
async fn an_administrators_install_post_never_replaces_the_application_token() {
    let app = installed().await;
    let before = app.record().await.expect("installed");
    let (status, text) = app.post_frame(&app.tokens_of(ADMINISTRATOR), CHOSEN).await;
    assert_eq!(status, 200, "{text}");
    let after = app.record().await.expect("installed");
    assert_eq!(
        after.application_token.expose_secret(),
        before.application_token.expose_secret()
    );
    assert_ne!(
        after.tokens.refresh_token.expose_secret(),
        before.tokens.refresh_token.expose_secret(),
        "the administrator's proven pair is taken"
    );
    let genuine = app.creds.application_token.expose_secret();
    assert_eq!(app.post_event(genuine).await, 200);
    assert_eq!(app.post_event(CHOSEN).await, 401);
}

#[tokio::test]
async fn an_administrators_onappinstall_replaces_the_application_token() {
    let app = installed().await;
    let (status, text) = app
        .post(
            &app.urls.install(),
            app.onappinstall(&app.tokens_of(ADMINISTRATOR), CHOSEN),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let after = app.record().await.expect("installed");
    assert_eq!(after.application_token.expose_secret(), CHOSEN);
    assert_eq!(app.post_event(CHOSEN).await, 200);
}

/// The app misses ONAPPUNINSTALL (its handler was gone), so its record is stale when the
/// administrator installs again: the install POST keeps the old application token, the
/// reinstall's ONAPPINSTALL replaces it.
#[tokio::test]
async fn an_administrators_reinstall_replaces_a_stale_application_token() {
    let mut app = installed().await;
    let old = app.creds.application_token.expose_secret().to_owned();
    let client = app
        .registry
        .client_for(&MemberId::from(&app.creds.member_id))
        .await
        .expect("client");
    let unbind = json!({"event": "ONAPPUNINSTALL", "handler": app.urls.install()});
    client
        .call_raw("event.unbind", unbind)
        .await
        .expect("unbound");
    app.portal
        .uninstall(&app.creds.client_id, true)
        .expect("uninstall");
    app.settle().await;
    assert!(app.record().await.is_some(), "the app missed the uninstall");

    let status = app
        .portal
        .install(&app.creds.client_id)
        .await
        .expect("reinstall");
    let post = status.last_install_post.expect("install POST");
    let new = post.form()["APPLICATION_TOKEN"].clone();
    assert_ne!(new, old);
    let stored = app.record().await.expect("stored");
    assert_eq!(
        stored.application_token.expose_secret(),
        old,
        "the install POST does not replace it"
    );
    app.portal
        .install_finish(&app.creds.client_id)
        .expect("installFinish");
    app.settle().await;
    let stored = app.record().await.expect("stored");
    assert_eq!(stored.application_token.expose_secret(), new);
    assert_eq!(app.post_event(&new).await, 200);
    assert_eq!(app.post_event(&old).await, 401);
    super::support::customer_and_operator_talk(&mut app, "after-reinstall").await;
}

#[tokio::test]
async fn an_employee_cannot_replace_the_pair_through_the_code_flow() {
    let app = installed().await;
    let before = app.record().await.expect("installed");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("browser");
    // Anyone may start the flow; the employee then brings a code of their own.
    let start = format!("{}?member_id={}", app.urls.authorize(), app.creds.member_id);
    let response = browser.get(&start).send().await.expect("authorize");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ascii");
    let location = url::Url::parse(location).expect("url");
    let state = location
        .query_pairs()
        .find(|(key, _)| key == "state")
        .expect("state")
        .1
        .into_owned();
    let code = app
        .portal
        .authorization_code(&app.creds.client_id, EMPLOYEE)
        .expect("code");
    let mut callback = url::Url::parse(&app.urls.oauth_callback()).expect("url");
    callback
        .query_pairs_mut()
        .append_pair("code", code.expose_secret())
        .append_pair("state", &state)
        .append_pair("domain", &app.creds.domain)
        .append_pair("member_id", &app.creds.member_id);
    let response = http().get(callback).send().await.expect("callback");
    assert_eq!(response.status(), 403);
    app.assert_kept(&before).await;
}
