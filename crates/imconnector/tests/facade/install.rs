//! The installer against the emulated portal: both install styles from nothing to a confirmed
//! operator reply, forged lifecycle events, uninstall and reinstall, malformed install POSTs,
//! the settings page and the code flow.

mod code_flow;
mod keep_alive;
mod reconcile;
mod restart;
pub mod support;
mod takeover;
mod update;

use imconnector::emulator::{DeliveryOutcome, InstallState};
use imconnector::ExposeSecret;
use imconnector::MemberId;
use serde_json::json;

use crate::support::http;
use support::{app, customer_and_operator_talk, form_of, installed, Style};

#[tokio::test]
async fn ui_install_from_nothing_to_a_confirmed_operator_reply() {
    let mut app = app(Style::Ui).await;
    let status = app
        .portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    let post = status.last_install_post.expect("install POST sent");
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    let frame = post.form();

    // The POST carried the application token: the portal is stored, the connector ready.
    let stored = app.record().await.expect("stored after the install POST");
    assert_eq!(
        stored.application_token.expose_secret(),
        app.creds.application_token.expose_secret()
    );
    assert_ne!(
        stored.tokens.refresh_token.expose_secret(),
        frame["REFRESH_ID"],
        "the proof rotated the pair"
    );
    assert!(app.portal.line_status("acme_chat", 1).status());
    assert_eq!(status.state, InstallState::AwaitingFinish);

    app.portal
        .install_finish(&app.creds.client_id)
        .expect("installFinish");
    app.settle().await;
    let install = app.last_delivery("ONAPPINSTALL");
    assert_eq!(install.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(install.handler, app.urls.install());
    let event = form_of(&install);
    let stored = app.record().await.expect("stored");
    assert_ne!(
        stored.tokens.refresh_token.expose_secret(),
        event["auth"]["refresh_token"],
        "ONAPPINSTALL's pair was refreshed to prove it"
    );
    assert_eq!(stored.domain.as_deref(), Some(app.creds.domain.as_str()));

    customer_and_operator_talk(&mut app, "ui-chat").await;
}

#[tokio::test]
async fn a_legacy_install_post_provisions_and_onappinstall_stores() {
    let mut app = app(Style::LegacyUi).await;
    let status = app
        .portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    let post = status.last_install_post.expect("sent");
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(!post.form().contains_key("APPLICATION_TOKEN"));
    // The proven pair is kept at once, without an application token: no event matches yet.
    let kept = app.record().await.expect("the proven pair is stored");
    assert!(kept.application_token.expose_secret().is_empty());
    assert!(kept.provisioned);
    assert!(app.portal.line_status("acme_chat", 1).status());
    let real_token = app.creds.application_token.expose_secret().to_owned();
    assert_eq!(app.post_event(&real_token).await, 401, "no token known yet");

    app.portal
        .install_finish(&app.creds.client_id)
        .expect("installFinish");
    app.settle().await;
    let stored = app.record().await.expect("stored by ONAPPINSTALL");
    assert_eq!(stored.application_token.expose_secret(), real_token);
    assert_eq!(app.post_event(&real_token).await, 200);
    customer_and_operator_talk(&mut app, "legacy-chat").await;
}

#[tokio::test]
async fn a_legacy_install_whose_onappinstall_never_comes_is_served_with_its_proven_pair() {
    let app = app(Style::LegacyUi).await;
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    // No installFinish, so no ONAPPINSTALL: the portal is served all the same.
    let client = app
        .registry
        .client_for(&MemberId::from(&app.creds.member_id))
        .await
        .expect("the portal is in the registry");
    let info = client
        .call_raw("app.info", json!({}))
        .await
        .expect("the kept pair works");
    assert_eq!(info.result["INSTALLED"], json!(false), "{:?}", info.result);
    assert_eq!(app.registry.portals().await.expect("listed").len(), 1);
    // An event claiming any token is refused: none is known.
    assert_eq!(app.post_event("forged").await, 401);
    let real_token = app.creds.application_token.expose_secret().to_owned();
    assert_eq!(app.post_event(&real_token).await, 401);
}

#[tokio::test]
async fn a_legacy_install_without_onappinstall_takes_its_token_from_a_proven_settings_page() {
    let app = app(Style::LegacyUi).await;
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    // ONAPPINSTALL never comes. A forged settings page first: a made-up AUTH_ID and a token of
    // the attacker's choosing, which would let the attacker's events in if it were taken.
    let options = json!({"CONNECTOR": "acme_chat", "LINE": "1", "ACTIVE_STATUS": false});
    let forged = imconnector_form::encode(&json!({
        "AUTH_ID": "made-up-token", "AUTH_EXPIRES": "3600", "member_id": app.creds.member_id,
        "PLACEMENT": "SETTING_CONNECTOR", "PLACEMENT_OPTIONS": options.to_string(),
        "APPLICATION_TOKEN": "chosen-by-attacker",
    }));
    let (status, text) = app.post(app.urls.settings().as_str(), forged).await;
    assert_eq!(status, 401, "{text}");
    let kept = app.record().await.expect("stored");
    assert!(
        kept.application_token.expose_secret().is_empty(),
        "nothing taken from a forged page"
    );
    assert!(app.portal.line_status("acme_chat", 1).status(), "unchanged");
    assert_eq!(app.post_event("chosen-by-attacker").await, 401);

    // The administrator switches the connector off on the settings page: proven by its
    // AUTH_ID, applied, and its token is the portal's from now on.
    let genuine = app
        .portal
        .disconnect_connector("acme_chat", 1)
        .await
        .expect("disconnect");
    assert!(genuine.form().contains_key("APPLICATION_TOKEN"));
    assert_eq!(genuine.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(!app.portal.line_status("acme_chat", 1).status());
    let real_token = app.creds.application_token.expose_secret().to_owned();
    let stored = app.record().await.expect("stored");
    assert_eq!(stored.application_token.expose_secret(), real_token);
    assert_eq!(app.post_event(&real_token).await, 200);
    assert_eq!(app.post_event("chosen-by-attacker").await, 401);
}

#[tokio::test]
async fn api_only_install_from_nothing_to_a_confirmed_operator_reply() {
    let mut app = app(Style::ApiOnly).await;
    let status = app
        .portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    assert_eq!(status.state, InstallState::Installed);
    app.settle().await;
    let install = app.last_delivery("ONAPPINSTALL");
    assert_eq!(install.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(app.record().await.is_some());
    assert!(app.portal.line_status("acme_chat", 1).status());
    customer_and_operator_talk(&mut app, "api-chat").await;
}

/// A well-formed ONAPPINSTALL whose `auth` the test controls.
fn onappinstall(refresh_token: &str, member_id: &str, domain: &str) -> String {
    imconnector_form::encode(&json!({
        "event": "ONAPPINSTALL",
        "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
        "ts": "1773761165",
        "auth": {
            "access_token": "forged-access", "expires": "1900000000", "expires_in": "3600",
            "scope": "imopenlines,imconnector", "domain": domain,
            "server_endpoint": "https://attacker.example/rest/", "status": "L",
            "client_endpoint": format!("http://{domain}/rest/"), "member_id": member_id,
            "user_id": "1", "refresh_token": refresh_token,
            "application_token": "00000000000000000000000000000000",
        }
    }))
}

#[tokio::test]
async fn a_forged_onappinstall_stores_nothing_and_provisions_nothing() {
    let app = app(Style::Ui).await;
    let install = app.urls.install();
    let (member, domain) = (app.creds.member_id.clone(), app.creds.domain.clone());

    // Right shape, tokens the OAuth server refuses.
    let (status, text) = app
        .post(&install, onappinstall("made-up", &member, &domain))
        .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("invalid_grant"), "{text}");
    // Tokens of another app on the portal: our secret cannot refresh them.
    let foreign = app.portal.tokens();
    let body = onappinstall(foreign.refresh_token.expose_secret(), &member, &domain);
    assert_eq!(app.post(&install, body).await.0, 401);
    // Genuine tokens of our app, claimed for another portal (member_id, then domain).
    let genuine = || {
        app.portal
            .tokens_for(&app.creds.client_id, 1)
            .expect("tokens")
    };
    let token = genuine();
    let body = onappinstall(
        token.refresh_token.expose_secret(),
        "another-member",
        &domain,
    );
    let (status, text) = app.post(&install, body).await;
    assert_eq!(status, 401);
    assert!(text.contains("member_id"), "{text}");
    let token = genuine();
    let body = onappinstall(token.refresh_token.expose_secret(), &member, "evil.example");
    let (status, text) = app.post(&install, body).await;
    assert_eq!(status, 401);
    assert!(text.contains("domain"), "{text}");
    assert!(!text.contains(token.refresh_token.expose_secret()));

    app.assert_untouched().await;
}

#[tokio::test]
async fn a_forged_onappuninstall_removes_nothing() {
    let app = installed().await;
    let before = app.record().await.expect("installed");
    let uninstall = |member: &str, token: &str| {
        imconnector_form::encode(&json!({
            "event": "ONAPPUNINSTALL", "data": {"LANGUAGE_ID": "en", "CLEAN": "1"}, "ts": "1",
            "auth": {"domain": app.creds.domain, "client_endpoint": app.portal.rest_url(),
                     "server_endpoint": app.portal.rest_url(), "member_id": member,
                     "application_token": token},
        }))
    };
    let real = app.creds.application_token.expose_secret().to_owned();
    // Only the last character differs (a real token is never all of one character).
    let last = if real.ends_with('0') { '1' } else { '0' };
    let near = format!("{}{last}", &real[..real.len() - 1]);
    let (status, _) = app
        .post(&app.urls.install(), uninstall(&app.creds.member_id, &near))
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(&app.urls.install(), uninstall("other-portal", &real))
        .await;
    assert_eq!(status, 404);
    let after = app.record().await.expect("still installed");
    assert_eq!(
        after.tokens.refresh_token.expose_secret(),
        before.tokens.refresh_token.expose_secret()
    );
    assert_eq!(app.post_event(&real).await, 200, "events still accepted");
}

#[tokio::test]
async fn uninstall_then_reinstall_replaces_tokens_and_the_application_token() {
    let mut app = installed().await;
    let first = app.record().await.expect("installed");
    let old_token = first.application_token.expose_secret().to_owned();

    app.portal
        .uninstall(&app.creds.client_id, true)
        .expect("uninstall");
    app.settle().await;
    let uninstall = app.last_delivery("ONAPPUNINSTALL");
    assert_eq!(
        uninstall.outcome,
        DeliveryOutcome::Delivered { status: 200 }
    );
    assert!(app.record().await.is_none(), "tokens and record removed");
    assert_eq!(app.post_event(&old_token).await, 401);

    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("reinstall");
    app.settle().await;
    let second = app.record().await.expect("reinstalled");
    let new_token = second.application_token.expose_secret().to_owned();
    assert_ne!(new_token, old_token);
    assert_ne!(
        second.tokens.refresh_token.expose_secret(),
        first.tokens.refresh_token.expose_secret()
    );
    assert_ne!(
        second.tokens.access_token.expose_secret(),
        first.tokens.access_token.expose_secret()
    );
    assert_eq!(
        app.post_event(&old_token).await,
        401,
        "the old token is refused"
    );
    assert_eq!(
        app.post_event(&new_token).await,
        200,
        "the new one accepted"
    );
    customer_and_operator_talk(&mut app, "again-chat").await;
}

#[tokio::test]
async fn malformed_install_posts_get_a_clear_4xx_and_change_nothing() {
    let app = app(Style::Ui).await;
    let url = format!(
        "{}?DOMAIN={}&PROTOCOL=0&LANG=en&APP_SID=0123",
        app.urls.install(),
        app.creds.domain
    );
    let genuine = app
        .portal
        .tokens_for(&app.creds.client_id, 1)
        .expect("tokens");
    let frame = format!(
        "AUTH_ID={}&AUTH_EXPIRES=3600&REFRESH_ID={}&member_id={}&status=L&PLACEMENT=DEFAULT",
        genuine.access_token.expose_secret(),
        genuine.refresh_token.expose_secret(),
        app.creds.member_id
    );
    let auth_id = format!("AUTH_ID={}&", genuine.access_token.expose_secret());
    let cases = [
        (frame.replace(&auth_id, ""), 400, "AUTH_ID"),
        (
            frame.replace("3600", "1773761165000000"),
            400,
            "AUTH_EXPIRES",
        ),
        (frame.replace("3600", "soon"), 400, "AUTH_EXPIRES"),
        (
            frame.replace("DEFAULT", "SETTING_CONNECTOR"),
            400,
            "PLACEMENT",
        ),
        (
            "event=ONAPPINSTALL&auth[member_id]=x".to_owned(),
            400,
            "application_token",
        ),
        (
            "event=ONIMCONNECTORMESSAGEADD".to_owned(),
            400,
            "ONIMCONNECTORMESSAGEADD",
        ),
        ("status=L".to_owned(), 400, "no `PLACEMENT`"),
    ];
    for (body, status, named) in cases {
        let (answer, text) = app.post(&url, body).await;
        assert_eq!(answer, status, "{named}: {text}");
        assert!(text.contains(named), "{named}: {text}");
        assert!(!text.contains(genuine.refresh_token.expose_secret()));
    }
    let huge = format!("{frame}&PLACEMENT_OPTIONS={}", "x".repeat(200 * 1024));
    assert_eq!(app.post(&url, huge).await.0, 413);
    app.assert_untouched().await;
    // The tokens were never spent: the genuine POST still installs.
    let (status, text) = app.post(&url, frame).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("BX24.installFinish()"), "{text}");
}

#[tokio::test]
async fn the_code_flow_replaces_an_installed_portals_tokens() {
    let app = installed().await;
    let before = app.record().await.expect("installed");

    // Browser: the app's /authorize → the portal's /oauth/authorize/ → the app's /oauth.
    let start = format!("{}?member_id={}", app.urls.authorize(), app.creds.member_id);
    let response = http().get(&start).send().await.expect("flow");
    let landed = response.url().clone();
    assert_eq!(response.status(), 200, "{landed}");
    assert!(
        landed.as_str().starts_with(&app.urls.oauth_callback()),
        "{landed}"
    );
    let after = app.record().await.expect("still installed");
    assert_ne!(
        after.tokens.access_token.expose_secret(),
        before.tokens.access_token.expose_secret()
    );
    assert_eq!(
        after.application_token.expose_secret(),
        before.application_token.expose_secret()
    );
    let client = app
        .registry
        .client_for(&MemberId::from(&app.creds.member_id))
        .await
        .expect("client");
    client
        .call_raw("imopenlines.config.list.get", json!({}))
        .await
        .expect("the new tokens work");

    // The same redirect again: the state is used up.
    let replay = http().get(landed.clone()).send().await.expect("replay");
    assert_eq!(replay.status(), 401);
    // A redirect to the handler path (a local app's default target) is taken there too.
    let at_handler = format!(
        "{}?{}",
        app.urls.app(),
        landed.query().expect("redirect parameters")
    );
    assert_eq!(
        http().get(at_handler).send().await.expect("get").status(),
        401
    );
    let unknown = format!("{}?member_id=nobody", app.urls.authorize());
    assert_eq!(http().get(unknown).send().await.expect("get").status(), 404);
}

#[tokio::test]
async fn the_settings_page_needs_the_application_token_and_applies_the_choice() {
    let app = installed().await;
    let page = |token: &str, active: bool| {
        let options = json!({"CONNECTOR": "acme_chat", "LINE": "1", "ACTIVE_STATUS": active});
        imconnector_form::encode(&json!({
            "AUTH_ID": "user-token", "AUTH_EXPIRES": "3600", "member_id": app.creds.member_id,
            "PLACEMENT": "SETTING_CONNECTOR", "PLACEMENT_OPTIONS": options.to_string(),
            "APPLICATION_TOKEN": token,
        }))
    };
    let settings = app.urls.settings();
    let (status, _) = app.post(settings.as_str(), page("wrong", false)).await;
    assert_eq!(status, 401);
    assert!(app.portal.line_status("acme_chat", 1).status(), "unchanged");
    let token = app.creds.application_token.expose_secret();
    let (status, text) = app.post(settings.as_str(), page(token, false)).await;
    assert_eq!(status, 200, "{text}");
    assert!(!app.portal.line_status("acme_chat", 1).status());
    let (status, text) = app.post(settings.as_str(), page(token, true)).await;
    assert_eq!(status, 200, "{text}");
    assert!(app.portal.line_status("acme_chat", 1).status());

    // Provisioning again on demand, e.g. after the portal lost the connector.
    app.post(settings.as_str(), page(token, false)).await;
    let provisioned = app
        .installer
        .provision(&MemberId::from(&app.creds.member_id))
        .await
        .expect("provisioned again");
    assert!(provisioned.already_bound.len() == 2 && provisioned.newly_bound.is_empty());
    assert!(app.portal.line_status("acme_chat", 1).status());
}

#[tokio::test]
async fn a_settings_page_without_the_application_token_is_proven_by_its_auth_id() {
    use imconnector::emulator::SettingsPostShape;

    let app = installed().await;
    assert!(app.portal.line_status("acme_chat", 1).status());
    app.portal
        .set_settings_post_shape(SettingsPostShape::WithoutApplicationToken);

    // Genuine: the administrator's Disconnect, then Connect, as the portal POSTs them.
    let post = app
        .portal
        .disconnect_connector("acme_chat", 1)
        .await
        .expect("disconnect");
    assert!(
        !post.form().contains_key("APPLICATION_TOKEN"),
        "{}",
        post.body
    );
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(!app.portal.line_status("acme_chat", 1).status());
    let post = app
        .portal
        .connect_connector("acme_chat", 1)
        .await
        .expect("connect");
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(app.portal.line_status("acme_chat", 1).status());

    // Forged: the genuine page's shape with a made-up AUTH_ID, switching the connector off.
    let mut forged = post.form();
    forged.insert("AUTH_ID".to_owned(), "made-up-token".to_owned());
    let options = json!({"CONNECTOR": "acme_chat", "LINE": "1", "ACTIVE_STATUS": false});
    forged.insert("PLACEMENT_OPTIONS".to_owned(), options.to_string());
    let body = imconnector_form::encode(&json!(forged));
    let stored_before = app.record().await.expect("stored");
    let (status, text) = app.post(&post.url, body).await;
    assert_eq!(status, 401, "{text}");
    assert!(app.portal.line_status("acme_chat", 1).status(), "unchanged");
    let stored_after = app.record().await.expect("stored");
    assert_eq!(
        stored_after.tokens.refresh_token.expose_secret(),
        stored_before.tokens.refresh_token.expose_secret(),
        "nothing stored changed"
    );
}

#[tokio::test]
async fn a_portal_that_does_not_answer_cannot_hold_the_settings_page() {
    use std::time::Duration;

    use imconnector::emulator::{Faults, SettingsPostShape};
    use imconnector::portals::MemoryPortalStore;

    let app = support::app_tuned(Style::ApiOnly, MemoryPortalStore::new(), |installer| {
        installer
            .settings_proof_timeout(Duration::from_secs(1))
            .expect("a valid timeout")
    })
    .await;
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    app.settle().await;
    app.portal
        .set_settings_post_shape(SettingsPostShape::WithoutApplicationToken);
    let post = app
        .portal
        .disconnect_connector("acme_chat", 1)
        .await
        .expect("disconnect");
    assert_eq!(post.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert!(!app.portal.line_status("acme_chat", 1).status());
    // Every REST request now waits ten minutes before the portal looks at it.
    app.portal
        .set_faults(Some(
            Faults::new(7)
                .latency(Duration::from_secs(600), 1.0)
                .rest_only(),
        ))
        .expect("faults");
    let post = tokio::time::timeout(
        Duration::from_secs(120),
        app.portal.connect_connector("acme_chat", 1),
    )
    .await
    .expect("the page answered long before the portal would have")
    .expect("connect");
    assert!(
        matches!(
            post.outcome,
            DeliveryOutcome::Failed {
                status: Some(504),
                ..
            }
        ),
        "{:?}",
        post.outcome
    );
    app.portal.set_faults(None).expect("no faults");
    assert!(
        !app.portal.line_status("acme_chat", 1).status(),
        "the app activated nothing unproven"
    );
}

#[tokio::test]
async fn the_code_flow_step_by_step_authorize_redirect_code_tokens() {
    use imconnector::transport::authorization::{
        AuthorizationState, OAuthServer, TokenEndpointError,
    };
    use imconnector::transport::ErrorCode;

    let app = installed().await;
    let server = OAuthServer::new(imconnector::OAuthApp::new(
        &app.creds.client_id,
        app.creds.client_secret.expose_secret(),
    ))
    .expect("client")
    .token_url(&app.portal.oauth_url())
    .expect("url");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("browser");
    let redirect = |state: AuthorizationState| {
        let url = server
            .authorize_url(&app.portal.base_url(), &state)
            .expect("url");
        let browser = browser.clone();
        async move {
            let response = browser.get(url).send().await.expect("authorize");
            assert_eq!(response.status(), 302);
            let location = response.headers()["location"].to_str().expect("ascii");
            let location = url::Url::parse(location).expect("url");
            let params: std::collections::HashMap<String, String> =
                location.query_pairs().into_owned().collect();
            (location, params)
        }
    };

    let state = AuthorizationState::random();
    let (location, params) = redirect(state.clone()).await;
    assert!(location.as_str().starts_with(&app.urls.oauth_callback()));
    assert!(state.matches(&params["state"]));
    assert!(!AuthorizationState::random().matches(&params["state"]));
    assert_eq!(params["member_id"], app.creds.member_id);
    let tokens = server.exchange_code(&params["code"]).await.expect("tokens");
    assert_eq!(
        tokens.member_id.as_ref().map(|id| id.as_str()),
        Some(app.creds.member_id.as_str())
    );
    assert!(tokens.expires_at.is_some());
    let client = imconnector::Client::builder()
        .portal(tokens.client_endpoint.clone().expect("endpoint"))
        .oauth(server.app().clone(), tokens)
        .oauth_server(app.portal.oauth_url())
        .build()
        .expect("client");
    client
        .call_raw("imopenlines.config.list.get", json!({}))
        .await
        .expect("the tokens work");

    let refused = server
        .exchange_code(&params["code"])
        .await
        .expect_err("refused");
    assert!(
        matches!(
            &refused,
            TokenEndpointError::Refused {
                code: ErrorCode::InvalidGrant,
                ..
            }
        ),
        "single use: {refused}"
    );
    let (_, late) = redirect(AuthorizationState::random()).await;
    app.portal.advance_clock(
        imconnector::transport::authorization::AUTHORIZATION_CODE_LIFETIME
            + std::time::Duration::from_secs(1),
    );
    let refused = server
        .exchange_code(&late["code"])
        .await
        .expect_err("refused");
    assert!(
        matches!(
            &refused,
            TokenEndpointError::Refused {
                code: ErrorCode::InvalidGrant,
                ..
            }
        ),
        "expired: {refused}"
    );
}
