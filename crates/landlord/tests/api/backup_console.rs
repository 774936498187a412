//! Backups for the operator: `/api/v1/admin/backups` (the overview, "back
//! up now", a snapshot's download) is for platform administrators only,
//! lists what the destination holds, takes a verified snapshot on demand,
//! streams the exact archive, refuses without a destination and on
//! PostgreSQL, and audits each action; the console's `/operator/backups`
//! page in a real browser, light and dark.

use std::path::Path;

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, PASSWORD};
use crate::support::app::{assert_error, json as body_json};
use crate::support::apps::operator;
use crate::support::browser::{Browser, Viewport};
use crate::support::errors::assert_error_saying;
use crate::support::{Backend, TestApp};

backend_tests!(the_api_is_for_platform_administrators_only);

const BACKUPS: &str = "/api/v1/admin/backups";
const OPS: &str = "backups-ops@example.com";

/// A server whose snapshots go to `destination` (none: not configured),
/// taken on demand only.
async fn spawn(backend: Backend, destination: Option<&Path>) -> TestApp {
    let destination = destination.map(|dir| dir.display().to_string());
    TestApp::spawn_with(backend, |c| {
        c.backup.schedule = false;
        if let Some(destination) = destination {
            c.backup.destination = destination;
        }
    })
    .await
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The actions recorded in the audit log with their actor, oldest first.
async fn audited(app: &TestApp, prefix: &str) -> Vec<(String, Option<String>)> {
    app.audit_actions()
        .await
        .into_iter()
        .filter(|(action, ..)| action.starts_with(prefix))
        .map(|(action, actor, ..)| (action, actor))
        .collect()
}

async fn the_api_is_for_platform_administrators_only(backend: Backend) {
    let destination = tempfile::tempdir().unwrap();
    let app = spawn(backend, Some(destination.path())).await;
    let download = format!("{BACKUPS}/landlord-20261206T191500.123Z/download");
    // No credentials: 401.
    assert_error(app.get(BACKUPS).await, 401, "UNAUTHORIZED").await;
    assert_error(
        app.post_json(BACKUPS, &json!({})).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert_error(app.get(&download).await, 401, "UNAUTHORIZED").await;
    // Signed in, an organization's owner, not a platform administrator: 403.
    let (owner, _) = signed_in(&app, "owner@example.com").await;
    assert_error(app.get_as(BACKUPS, &owner).await, 403, "FORBIDDEN").await;
    assert_error(
        app.post_as(BACKUPS, &owner, &json!({})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(app.get_as(&download, &owner).await, 403, "FORBIDDEN").await;
    assert!(std::fs::read_dir(destination.path())
        .unwrap()
        .next()
        .is_none());
    assert!(audited(&app, "admin.backup").await.is_empty());
    // A platform administrator reads the overview.
    let ops = operator(&app, OPS).await;
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    match backend {
        Backend::Sqlite => {
            assert_eq!(overview["supported"], true, "{overview}");
            assert_eq!(
                overview["destination"],
                destination.path().display().to_string()
            );
            assert_eq!(overview["snapshots"], json!([]));
        }
        Backend::Postgres => {
            // PostgreSQL is backed up with its own tools: said, and refused.
            assert_eq!(overview["supported"], false, "{overview}");
            assert!(overview["guide"]
                .as_str()
                .is_some_and(|guide| guide.contains("pg_dump")));
            assert_eq!(overview["snapshots"], json!([]));
            assert_error_saying(
                app.post_as(BACKUPS, &ops, &json!({})).await,
                409,
                "CONFLICT",
                "pg_dump",
            )
            .await;
            assert!(std::fs::read_dir(destination.path())
                .unwrap()
                .next()
                .is_none());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_backs_up_lists_and_downloads_the_exact_archive() {
    let destination = tempfile::tempdir().unwrap();
    let app = spawn(Backend::Sqlite, Some(destination.path())).await;
    let ops = operator(&app, OPS).await;

    // Nothing yet.
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    assert_eq!(overview["supported"], true);
    assert_eq!(overview["snapshots"], json!([]));
    assert_eq!(overview["keys"], "none");
    assert_eq!(overview["scheduled"], false);
    assert_eq!(overview["interval_secs"], 900);
    assert!(overview["lost_without_keys"]
        .as_str()
        .is_some_and(|text| text.contains("webhook")));
    assert_eq!(overview["last_success"], Value::Null);
    assert_eq!(overview["last_failure"], Value::Null);
    assert_eq!(overview["running"], Value::Null);
    assert_eq!(overview["destination_error"], Value::Null);

    // Back up now: taken, written, read back and verified.
    let taken = app.post_as(BACKUPS, &ops, &json!({})).await;
    assert_eq!(taken.status(), 201);
    let now = body_json(taken).await["data"].clone();
    assert_eq!(now["status"], "succeeded", "{now}");
    let snapshot = now["snapshot"].clone();
    let name = snapshot["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("landlord-"), "{name}");
    assert_eq!(snapshot["verified"], true);
    assert_eq!(snapshot["trigger"], "manual");

    // Listed, newest first, as the manifest beside the archive says.
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    let listed = overview["snapshots"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{overview}");
    assert_eq!(listed[0]["name"], name.as_str());
    assert_eq!(listed[0]["verified"], true);
    assert_eq!(listed[0]["keys"], "none");
    assert_eq!(listed[0]["trigger"], "manual");
    assert!(listed[0]["database_bytes"].as_u64().unwrap() > 0);
    assert_eq!(overview["last_success"]["snapshot"], name.as_str());
    assert_eq!(overview["last_success"]["trigger"], "manual");
    assert_eq!(overview["running"], Value::Null);

    // The download is the archive in the destination, byte for byte.
    let file = std::fs::read(destination.path().join(format!("{name}.tar.zst"))).unwrap();
    let stored: Value = serde_json::from_slice(
        &std::fs::read(destination.path().join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    let response = app
        .get_as(&format!("{BACKUPS}/{name}/download"), &ops)
        .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "application/zstd");
    assert_eq!(headers[CONTENT_LENGTH], file.len().to_string().as_str());
    assert_eq!(
        headers[CONTENT_DISPOSITION],
        format!("attachment; filename=\"{name}.tar.zst\"").as_str()
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len(), file.len());
    assert_eq!(sha256_hex(&bytes), sha256_hex(&file));
    assert_eq!(
        sha256_hex(&bytes),
        listed[0]["archive_sha256"].as_str().unwrap()
    );
    assert_eq!(stored["archive_sha256"], listed[0]["archive_sha256"]);
    assert_eq!(listed[0]["archive_bytes"], bytes.len() as u64);

    // An unknown name, a malformed one, another object's: 404.
    for path in [
        "landlord-20200101T000000.000Z",
        "not-a-snapshot",
        "landlord-..%2F..%2Fetc%2Fpasswd",
        &format!("{name}.json"),
    ] {
        assert_error(
            app.get_as(&format!("{BACKUPS}/{path}/download"), &ops)
                .await,
            404,
            "NOT_FOUND",
        )
        .await;
    }

    // A second snapshot is listed first.
    let second = data(app.post_as(BACKUPS, &ops, &json!({})).await).await;
    let second_name = second["snapshot"]["name"].as_str().unwrap().to_string();
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    let names: Vec<&str> = overview["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [second_name.as_str(), name.as_str()]);

    // Each action is in the audit log, by the operator.
    let ops_id = app.user_id(OPS).await;
    assert_eq!(
        audited(&app, "admin.backup").await,
        [
            ("admin.backup_taken".to_string(), Some(ops_id.clone())),
            ("admin.backup_downloaded".to_string(), Some(ops_id.clone())),
            ("admin.backup_taken".to_string(), Some(ops_id)),
        ]
    );
    let targets: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT action, target_id FROM audit_log WHERE action LIKE 'admin.backup%' ORDER BY created_at, id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(targets[0].1.as_deref(), Some(name.as_str()));
    assert_eq!(targets[1].1.as_deref(), Some(name.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_destination_back_up_now_is_refused_and_says_why() {
    let app = spawn(Backend::Sqlite, None).await;
    let ops = operator(&app, OPS).await;
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    assert_eq!(overview["supported"], true);
    assert_eq!(overview["destination"], Value::Null);
    assert_eq!(overview["scheduled"], false);
    assert_eq!(overview["snapshots"], json!([]));
    assert_error_saying(
        app.post_as(BACKUPS, &ops, &json!({})).await,
        409,
        "CONFLICT",
        "backup.destination",
    )
    .await;
    assert_error(
        app.get_as(
            &format!("{BACKUPS}/landlord-20261206T191500.123Z/download"),
            &ops,
        )
        .await,
        404,
        "NOT_FOUND",
    )
    .await;
    // Refused, so nothing was attempted and nothing audited.
    assert_eq!(app.count("SELECT COUNT(*) FROM backup_runs", &[]).await, 0);
    assert!(audited(&app, "admin.backup").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_backup_is_kept_with_its_reason() {
    // The destination is a directory the server cannot write into: a
    // file stands where the snapshot's archive would go.
    let destination = tempfile::tempdir().unwrap();
    let app = spawn(Backend::Sqlite, Some(destination.path())).await;
    let ops = operator(&app, OPS).await;
    let blocked = destination.path().to_path_buf();
    std::fs::remove_dir_all(&blocked).unwrap();
    std::fs::write(&blocked, b"not a directory").unwrap();
    let failed = app.post_as(BACKUPS, &ops, &json!({})).await;
    assert_error(failed, 500, "INTERNAL_ERROR").await;
    let overview = data(app.get_as(BACKUPS, &ops).await).await;
    let failure = &overview["last_failure"];
    assert_eq!(failure["trigger"], "manual", "{overview}");
    assert!(
        failure["error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "{overview}"
    );
    assert_eq!(overview["last_success"], Value::Null);
    // The list could not be read: said, not a failure of the page.
    assert_eq!(overview["snapshots"], json!([]));
    std::fs::remove_file(&blocked).unwrap();
}

/// The console's page in a browser: the configuration in words, "Back up
/// now", the snapshot's row and the notice, the download link; light and
/// dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_backs_up_from_the_console() {
    const TEST: &str = "backup_console::an_operator_backs_up_from_the_console";
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let destination = tempfile::tempdir().unwrap();
    let app = spawn(Backend::Sqlite, Some(destination.path())).await;
    operator(&app, OPS).await;

    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", OPS).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.element("details.account").await;
    browser.goto(&app, "/operator").await;
    browser.click_link("Backups").await;
    browser.wait_for_path("/operator/backups").await;
    browser.wait_for_text("Configuration").await;
    browser.wait_for_text("Not included").await;
    browser.wait_for_text("No snapshot at").await;
    browser.screenshot_themes("operator-backups-empty").await;

    browser.click_button("Back up now").await;
    browser.wait_for_text("Backed up: landlord-").await;
    browser.wait_for_text("verified").await;
    let rows = browser
        .script(
            "return document.querySelectorAll('table.list tbody tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows.as_u64(), Some(1));
    let href = browser
        .script(
            "return document.querySelector('table.list a[download]').getAttribute('href');",
            vec![],
        )
        .await;
    let href = href.as_str().unwrap().to_string();
    assert!(
        href.starts_with("/operator/backups/landlord-") && href.ends_with("/download"),
        "{href}"
    );
    browser.screenshot_themes("operator-backups-taken").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.reload().await;
    browser.wait_for_text("Snapshots").await;
    browser
        .script(
            "document.querySelector('table.list').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot_themes("operator-backups-phone").await;
    browser.set_viewport(Viewport::Desktop).await;

    // The next attempt fails: its reason is shown in the error panel.
    std::fs::remove_dir_all(destination.path()).unwrap();
    std::fs::write(destination.path(), b"not a directory").unwrap();
    browser.reload().await;
    browser.click_button("Back up now").await;
    browser.wait_for_text("The backup failed").await;
    browser.wait_for_text("Not a directory").await;
    browser.wait_for_text("The last backup failed").await;
    browser.screenshot_themes("operator-backups-failed").await;
    std::fs::remove_file(destination.path()).unwrap();
    browser.close().await;
}
