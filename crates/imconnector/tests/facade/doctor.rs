//! The doctor against the emulated portal: each seeded fault is found as its exact finding
//! kind, `fix` repairs the fixable ones, and a second run is clean.

use imconnector::doctor::{Doctor, DoctorReport, FindingKind};
use imconnector::emulator::{AppCredentials, AppSetup, Emulator};
use imconnector::prelude::*;

use crate::support::{line, portal, setup, sink};

const LINE_DELETE: &str = "OnImConnectorLineDelete";

/// A client of another app on the same portal, for its admin.
fn client_of(emulator: &Emulator, app: &AppCredentials) -> Client {
    let tokens = emulator
        .tokens_for(&app.client_id, 1)
        .expect("the app is known");
    Client::builder()
        .oauth(
            OAuthApp::new(&app.client_id, app.client_secret.expose_secret()),
            Tokens::new(
                tokens.access_token.expose_secret(),
                tokens.refresh_token.expose_secret(),
            ),
        )
        .portal(emulator.rest_url())
        .oauth_server(emulator.oauth_url())
        .rate_limit(RateLimit::Off)
        .build()
        .expect("client builds")
}

async fn examine(doctor: &Doctor) -> DoctorReport {
    doctor.examine().await.expect("the doctor runs")
}

/// Fixes what `doctor` finds and checks that a second run is clean.
async fn fix_until_clean(doctor: &Doctor) {
    let report = examine(doctor).await;
    let fixed = doctor.fix(&report).await.expect("the fix runs");
    assert!(fixed.left.is_empty(), "{:?}", fixed.left);
    assert!(!fixed.applied.is_empty());
    let again = examine(doctor).await;
    assert!(again.is_clean(), "after {:?}:\n{again}", fixed.applied);
}

fn not_bound(events: &[String]) -> Vec<FindingKind> {
    events
        .iter()
        .map(|event| FindingKind::EventNotBound {
            event: event.clone(),
        })
        .collect()
}

#[tokio::test]
async fn a_provisioned_connector_is_clean() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    let report = examine(&Doctor::new(portal.client.clone(), setup, line(1))).await;
    assert!(report.is_clean(), "{report}");
    let app = report.app.expect("app.info answered");
    assert!(app.installed);
    assert_eq!(app.code.as_deref(), Some(portal.app.client_id.as_str()));
    assert!(report
        .scopes
        .expect("scope answered")
        .contains(&"imconnector".to_owned()));
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn events_bound_by_another_app_are_found_and_moved_to_the_registering_app() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    // The registering app's bindings go; another app binds the events instead.
    for event in setup.events() {
        portal
            .client
            .call(&UnbindEvent::new(
                event.clone(),
                setup.event_handler().clone(),
            ))
            .await
            .expect("unbound");
    }
    let other = portal.emulator.install_app();
    let other_client = client_of(&portal.emulator, &other);
    for event in setup.events() {
        other_client
            .call(&BindEvent::new(
                event.clone(),
                setup.event_handler().clone(),
            ))
            .await
            .expect("bound by the other app");
    }
    let doctor = Doctor::new(portal.client.clone(), setup.clone(), line(1))
        .other_app("helper", other_client);
    let report = examine(&doctor).await;
    let mut expected = not_bound(setup.events());
    expected.extend(
        setup
            .events()
            .iter()
            .filter(|event| event.as_str() != LINE_DELETE)
            .map(|event| FindingKind::EventBoundByAnotherApp {
                event: event.clone(),
                app: "helper".to_owned(),
            }),
    );
    assert_eq!(report.kinds(), expected, "{report}");
    assert!(report.findings.iter().all(|finding| finding.fixable));
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn an_unfinished_installation_is_found_and_left_to_a_person() {
    let portal = portal().await;
    let handler = sink().await;
    let app = portal
        .emulator
        .add_app(AppSetup::ui(&handler, format!("{handler}/install")))
        .expect("app added");
    portal
        .emulator
        .install(&app.client_id)
        .await
        .expect("install POST sent");
    let client = client_of(&portal.emulator, &app);
    let setup = setup(&handler);
    provision(&client, &setup, line(1))
        .await
        .expect("provisioned: the tokens work before installFinish");
    let doctor = Doctor::new(client, setup, line(1));
    let report = examine(&doctor).await;
    assert_eq!(
        report.kinds(),
        [FindingKind::InstallationNotFinished],
        "{report}"
    );
    let fixed = doctor.fix(&report).await.expect("the fix runs");
    assert!(fixed.applied.is_empty(), "{:?}", fixed.applied);
    assert_eq!(fixed.left, report.findings);
    assert_eq!(
        examine(&doctor).await.kinds(),
        [FindingKind::InstallationNotFinished]
    );
    portal
        .emulator
        .install_finish(&app.client_id)
        .expect("finished");
    let report = examine(&doctor).await;
    assert!(report.is_clean(), "{report}");
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn a_connector_inactive_on_the_line_is_found_and_activated() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    portal
        .client
        .call(&ActivateConnector::new(setup.id().clone(), line(1), false))
        .await
        .expect("deactivated");
    let doctor = Doctor::new(portal.client.clone(), setup, line(1));
    let report = examine(&doctor).await;
    assert_eq!(
        report.kinds(),
        [FindingKind::ConnectorInactive { line: line(1) }],
        "{report}"
    );
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn another_connector_active_on_the_line_is_found_and_deactivated_only_when_allowed() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    let old = ConnectorSetup::new(
        ConnectorId::new("acme_chat_old").expect("valid id"),
        "Acme Chat (old)",
        Icon::new("data:image/svg+xml,%3Csvg%2F%3E"),
        setup.settings_url().clone(),
        setup.event_handler().clone(),
    );
    provision(&portal.client, &old, line(1))
        .await
        .expect("the other connector is active");
    let expected = [FindingKind::OtherConnectorActive {
        line: line(1),
        connector: "acme_chat_old".to_owned(),
    }];

    let cautious = Doctor::new(portal.client.clone(), setup.clone(), line(1));
    let report = examine(&cautious).await;
    assert_eq!(report.kinds(), expected, "{report}");
    assert!(!report.findings[0].fixable);
    let fixed = cautious.fix(&report).await.expect("the fix runs");
    assert!(fixed.applied.is_empty(), "{:?}", fixed.applied);
    assert_eq!(examine(&cautious).await.kinds(), expected);

    let allowed = cautious.deactivate_other_connectors(true);
    let report = examine(&allowed).await;
    assert_eq!(report.kinds(), expected, "{report}");
    assert!(report.findings[0].fixable);
    fix_until_clean(&allowed).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn a_missing_binding_is_found_and_bound_again() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    portal
        .client
        .call(&UnbindEvent::new(
            "OnImConnectorMessageAdd",
            setup.event_handler().clone(),
        ))
        .await
        .expect("unbound");
    let doctor = Doctor::new(portal.client.clone(), setup, line(1));
    let report = examine(&doctor).await;
    assert_eq!(
        report.kinds(),
        [FindingKind::EventNotBound {
            event: "OnImConnectorMessageAdd".to_owned()
        }],
        "{report}"
    );
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn an_app_update_that_removed_every_binding_is_found_and_repaired() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    portal
        .emulator
        .update_app(&portal.app.client_id)
        .expect("updated");
    let doctor = Doctor::new(portal.client.clone(), setup.clone(), line(1));
    let report = examine(&doctor).await;
    assert_eq!(report.kinds(), not_bound(setup.events()), "{report}");
    assert_eq!(report.app.and_then(|app| app.version).as_deref(), Some("2"));
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn a_missing_scope_is_found_and_left_to_a_person() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    portal
        .emulator
        .set_app_scope(&portal.app.client_id, &["imopenlines"])
        .expect("scope set");
    // `event.*` is `basic`: the binding can go while the scope is missing.
    portal
        .client
        .call(&UnbindEvent::new(
            "OnImConnectorMessageAdd",
            setup.event_handler().clone(),
        ))
        .await
        .expect("unbound");
    let doctor = Doctor::new(portal.client.clone(), setup, line(1));
    let report = examine(&doctor).await;
    let unbound = FindingKind::EventNotBound {
        event: "OnImConnectorMessageAdd".to_owned(),
    };
    assert_eq!(
        report.kinds(),
        [
            FindingKind::MissingScope {
                scope: "imconnector".to_owned()
            },
            unbound.clone(),
            FindingKind::CheckFailed {
                method: "imconnector.list".to_owned()
            },
        ],
        "{report}"
    );
    let fixable: Vec<bool> = report
        .findings
        .iter()
        .map(|finding| finding.fixable)
        .collect();
    assert_eq!(fixable, [false, true, false]);
    assert!(
        report.findings[2].seen.contains("insufficient_scope"),
        "{report}"
    );
    // Provisioning would be refused without the scope: nothing is tried, all is left.
    let fixed = doctor.fix(&report).await.expect("the fix runs");
    assert!(fixed.applied.is_empty(), "{:?}", fixed.applied);
    assert_eq!(fixed.left, report.findings);
    portal
        .emulator
        .set_app_scope(&portal.app.client_id, &["imopenlines", "imconnector"])
        .expect("scope set");
    let report = examine(&doctor).await;
    assert_eq!(report.kinds(), [unbound], "{report}");
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}

#[tokio::test]
async fn several_faults_at_once_are_fixed_in_one_run_and_the_second_run_is_clean() {
    let portal = portal().await;
    let setup = setup(&sink().await);
    provision(&portal.client, &setup, line(1))
        .await
        .expect("provisioned");
    provision(&portal.client, &setup, line(2))
        .await
        .expect("provisioned");
    portal
        .client
        .call(&ActivateConnector::new(setup.id().clone(), line(2), false))
        .await
        .expect("deactivated");
    portal
        .client
        .call(&UnbindEvent::new(
            "OnImConnectorDialogStart",
            setup.event_handler().clone(),
        ))
        .await
        .expect("unbound");
    let other = portal.emulator.install_app();
    let other_client = client_of(&portal.emulator, &other);
    other_client
        .call(&BindEvent::new(
            "OnImConnectorMessageAdd",
            setup.event_handler().clone(),
        ))
        .await
        .expect("bound by the other app");
    let doctor = Doctor::new(portal.client.clone(), setup, line(1))
        .line(line(2))
        .other_app("helper", other_client);
    let report = examine(&doctor).await;
    assert_eq!(
        report.kinds(),
        [
            FindingKind::EventNotBound {
                event: "OnImConnectorDialogStart".to_owned()
            },
            FindingKind::EventBoundByAnotherApp {
                event: "OnImConnectorMessageAdd".to_owned(),
                app: "helper".to_owned()
            },
            FindingKind::ConnectorInactive { line: line(2) },
        ],
        "{report}"
    );
    fix_until_clean(&doctor).await;
    portal.emulator.shutdown().await;
}
