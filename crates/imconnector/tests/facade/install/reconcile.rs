//! A portal stored but half provisioned (provisioning failed during ONAPPINSTALL, which the
//! portal never resends) is found after a restart and finished by `Installer::reconcile`.

use imconnector::MemberId;
use std::sync::Arc;

use imconnector::portals::{MemoryPortalStore, PortalStore};

use super::support::{app_with, installed_with, Style};

#[tokio::test]
async fn a_half_provisioned_portal_is_finished_after_a_restart() {
    let app = app_with(Style::ApiOnly, Arc::new(MemoryPortalStore::new())).await;
    // The portal refuses imconnector.* while the app lacks the scope: provisioning fails
    // after the portal is stored.
    app.portal
        .set_app_scope(&app.creds.client_id, &["imopenlines"])
        .expect("scope");
    app.portal
        .install(&app.creds.client_id)
        .await
        .expect("install");
    app.settle().await;
    let stored = app.record().await.expect("the proven portal is stored");
    assert!(
        !stored.provisioned,
        "provisioning failed, so it is not marked"
    );
    assert!(app.portal.connectors().is_empty());

    // The scope is granted; a restarted process reconciles.
    app.portal
        .set_app_scope(&app.creds.client_id, &["imopenlines", "imconnector"])
        .expect("scope");
    let installer = app.installer_sharing_the_store(&app.urls);
    let reconciled = installer
        .reconcile()
        .await
        .expect("the store lists its portals");
    assert_eq!(
        reconciled.finished,
        std::slice::from_ref(&app.creds.member_id)
    );
    assert!(reconciled.failed.is_empty(), "{:?}", reconciled.failed);
    assert_eq!(
        app.portal.connectors().len(),
        1,
        "the connector is registered"
    );
    assert!(app.record().await.expect("stored").provisioned);

    // Done once: the next start finds nothing to finish.
    let again = installer.reconcile().await.expect("listed");
    assert_eq!((again.provisioned, again.finished.len()), (1, 0));
}

#[tokio::test]
async fn a_successful_install_is_marked_and_a_failing_portal_is_reported_not_fatal() {
    let app = installed_with(Arc::new(MemoryPortalStore::new())).await;
    assert!(app.record().await.expect("stored").provisioned);
    assert_eq!(
        app.registry.portals().await.expect("listed"),
        std::slice::from_ref(&app.creds.member_id)
    );

    // Marked not provisioned and the scope taken away: reconcile reports it and goes on.
    app.registry
        .store()
        .set_provisioned(&MemberId::from(&app.creds.member_id), false)
        .await
        .expect("marked");
    app.portal
        .set_app_scope(&app.creds.client_id, &["imopenlines"])
        .expect("scope");
    let reconciled = app.installer.reconcile().await.expect("listed");
    assert_eq!(reconciled.failed.len(), 1, "{reconciled:?}");
    assert_eq!(reconciled.failed[0].0, app.creds.member_id);
    assert!(!app.record().await.expect("stored").provisioned);
}
