//! ONAPPUPDATE (a new version of the app is published): the portal sends a new application
//! token and removes the app's event bindings; the installer proves the event like
//! ONAPPINSTALL, stores the new token and binds everything again.

use imconnector::emulator::DeliveryOutcome;
use imconnector::prelude::*;
use imconnector::ExposeSecret;

use super::support::installed;

#[tokio::test]
async fn an_update_stores_the_new_application_token_and_binds_the_events_again() {
    let app = installed().await;
    let old_token = app
        .record()
        .await
        .expect("installed")
        .application_token
        .expose_secret()
        .to_owned();
    let client = app
        .registry
        .client_for(&MemberId::from(&app.creds.member_id))
        .await
        .expect("client");
    let bound_before = client
        .call(&ListEventBindings::new())
        .await
        .expect("bindings");

    let version = app.portal.update_app(&app.creds.client_id).expect("update");
    assert_eq!(version, 2);
    app.settle().await;
    assert_eq!(
        app.last_delivery("ONAPPUPDATE").outcome,
        DeliveryOutcome::Delivered { status: 200 },
        "the installer accepted the update"
    );
    let new_token = app
        .portal
        .apps()
        .into_iter()
        .find(|credentials| credentials.client_id == app.creds.client_id)
        .expect("the app")
        .application_token
        .expose_secret()
        .to_owned();
    assert_ne!(new_token, old_token);
    let stored = app.record().await.expect("still installed");
    assert_eq!(stored.application_token.expose_secret(), new_token);
    assert!(stored.provisioned);

    // Events signed with the new token are accepted, the old token is refused.
    assert_eq!(app.post_event(&new_token).await, 200);
    assert_eq!(app.post_event(&old_token).await, 401);
    // The bindings the update removed are back.
    let client = app
        .registry
        .client_for(&MemberId::from(&app.creds.member_id))
        .await
        .expect("client");
    let bound_after = client
        .call(&ListEventBindings::new())
        .await
        .expect("bindings");
    let events = |bindings: &[imconnector::types::EventBinding]| {
        let mut names: Vec<String> = bindings
            .iter()
            .map(|binding| binding.event.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(events(&bound_after), events(&bound_before));
    assert!(events(&bound_after).contains(&"ONAPPUPDATE".to_owned()));
}
