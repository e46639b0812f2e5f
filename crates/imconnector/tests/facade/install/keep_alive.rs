//! Keep-alive with the emulator's clock advanced: an idle portal's pair is refreshed once per
//! `max_idle`, so it outlives the refresh token's 180 days; without it the portal is lost.

use std::time::{Duration, SystemTime};

use imconnector::portals::KeepAlive;
use imconnector::transport::Error;

use super::support::installed;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn an_idle_portal_is_refreshed_once_per_max_idle_and_outlives_180_days() {
    let app = installed().await;
    let member_id = app.creds.member_id.clone();
    let policy = KeepAlive::new();
    let started = SystemTime::now();
    let refreshes = || app.portal.counters().refreshes;
    let before = refreshes();

    let report = app
        .registry
        .keep_alive_once(&policy, started)
        .await
        .expect("walk");
    assert_eq!(report.checked, 1);
    assert!(report.refreshed.is_empty(), "a fresh pair is not due");
    assert_eq!(refreshes(), before);

    // Seven idle months, a walk every 31 days (emulator and keep-alive agree on the time).
    let step = 31 * DAY;
    for month in 1..=7_u32 {
        app.portal.advance_clock(step);
        let now = started + step * month;
        let report = app
            .registry
            .keep_alive_once(&policy, now)
            .await
            .expect("walk");
        assert_eq!(
            report.refreshed,
            std::slice::from_ref(&member_id),
            "month {month}"
        );
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        assert_eq!(refreshes(), before + u64::from(month), "refreshed once");
        // A second walk at the same time finds nothing due: once, not every walk.
        let again = app
            .registry
            .keep_alive_once(&policy, now)
            .await
            .expect("walk");
        assert!(again.refreshed.is_empty(), "month {month}: {again:?}");
        assert_eq!(refreshes(), before + u64::from(month));
    }

    // 217 days after installation the portal still answers, with no refresh refused.
    let client = app.registry.client_for(&member_id).await.expect("client");
    client
        .call_raw("app.info", serde_json::json!({}))
        .await
        .expect("the portal still answers");
    assert_eq!(app.portal.counters().refresh_rejections, 0);
}

#[tokio::test]
async fn without_keep_alive_an_idle_portal_is_lost_after_180_days() {
    let app = installed().await;
    app.portal.advance_clock(181 * DAY);
    let client = app
        .registry
        .client_for(&app.creds.member_id)
        .await
        .expect("client");
    let error = client
        .call_raw("app.info", serde_json::json!({}))
        .await
        .expect_err("the refresh token died");
    assert!(
        matches!(error, Error::ReauthorizationNeeded { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_dead_pair_is_reported_not_hidden() {
    let app = installed().await;
    app.portal.advance_clock(181 * DAY);
    let report = app
        .registry
        .keep_alive_once(&KeepAlive::new(), SystemTime::now() + 181 * DAY)
        .await
        .expect("walk");
    assert!(report.refreshed.is_empty());
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].to_string().contains(&app.creds.member_id),
        "{}",
        report.failed[0]
    );
}
