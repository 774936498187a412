//! The developer's apps and the operator's review queue in a real browser:
//! a developer creates an app, sees its secret once (a reload: gone),
//! rotates it, submits the app; an operator publishes it from the queue.
//! Every step in the light and the dark scheme, the app's page and the
//! queue also 375 px wide.
//!
//! SQLite only: the pages call the same `registry` and `review` functions
//! as the API, whose storage `apps_registry` covers on both backends.

use crate::support::accounts::PASSWORD;
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str = "console_apps_browser::a_developer_creates_submits_and_an_operator_publishes";

async fn sign_up(browser: &Browser, app: &TestApp, email: &str, organization: &str) -> String {
    browser.goto(app, "/sign-up").await;
    browser.fill("Organization name", organization).await;
    browser.fill("Your name", "Ada").await;
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Requests this month").await;
    browser.current_path().await
}

async fn secret_shown(browser: &Browser) -> Option<String> {
    browser
        .script(
            "const s = document.getElementById('secret'); return s ? s.value : null;",
            vec![],
        )
        .await
        .as_str()
        .map(str::to_owned)
}

async fn stored_hash(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT client_secret_hash FROM apps WHERE slug = 'notes'")
        .fetch_one(app.db.pool())
        .await
        .expect("the app's secret hash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_developer_creates_submits_and_an_operator_publishes() {
    let Some(dev) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let overview = sign_up(&dev, &app, "ada@apps.test", "Acme Apps").await;
    let apps = format!("{overview}/apps");

    dev.visit(&app, &apps, "No app yet", "apps-empty").await;
    dev.click_link("New app").await;
    dev.wait_for_text("Client type").await;
    // A refusal: each reason beside its field, what was typed kept.
    dev.fill("Name", "Notes").await;
    dev.fill("Slug", "Admin").await;
    dev.fill("Redirect URIs", "http://notes.example.com/cb")
        .await;
    dev.click_button("Create the app").await;
    dev.wait_for_text("May contain only a-z, 0-9 and -.").await;
    assert!(dev
        .text_of("#redirect_uris-error")
        .await
        .starts_with("Line 1:"));
    dev.screenshot_themes("apps-new-refused").await;
    dev.fill("Slug", "notes").await;
    dev.fill(
        "Redirect URIs",
        "https://notes.example.com/cb\nhttp://127.0.0.1:8080/cb",
    )
    .await;
    dev.fill("Home page (optional)", "https://notes.example.com")
        .await;
    dev.click_button("Create the app").await;
    dev.wait_for_text("The client secret of “Notes”").await;
    let first = secret_shown(&dev).await.expect("the secret shown");
    assert!(first.starts_with("llcs_"), "{first}");
    assert_eq!(
        stored_hash(&app).await,
        landlord_core::crypto::sha256_hex(&first)
    );
    dev.screenshot_themes("app-created-secret").await;
    dev.set_viewport(Viewport::Phone).await;
    dev.screenshot_themes("app-created-secret-phone").await;
    dev.set_viewport(Viewport::Desktop).await;
    // Shown once: a reload does not show it again.
    dev.reload().await;
    dev.wait_for_text("Credentials").await;
    dev.assert_no_text("The client secret of").await;
    assert_eq!(secret_shown(&dev).await, None);
    dev.screenshot_themes("app-draft").await;

    // Rotated: a new secret shown once, the old one's hash gone.
    dev.click_link("Rotate secret").await;
    dev.wait_for_text("Rotate the secret of “Notes”?").await;
    dev.screenshot_themes("app-rotate-confirm").await;
    dev.click_button("Rotate the secret").await;
    dev.wait_for_text("The secret is rotated").await;
    let second = secret_shown(&dev).await.expect("the new secret shown");
    assert_ne!(second, first);
    assert_eq!(
        stored_hash(&app).await,
        landlord_core::crypto::sha256_hex(&second)
    );
    dev.reload().await;
    dev.wait_for_text("Credentials").await;
    assert_eq!(secret_shown(&dev).await, None);

    // Submitted for review.
    dev.click_button("Submit for review").await;
    dev.wait_for_text("Submitted for review").await;
    dev.wait_for_text("Waiting for a platform administrator")
        .await;
    dev.screenshot_themes("app-in-review").await;
    dev.visit(&app, &apps, "In review", "apps-list").await;

    // The operator publishes it from the queue.
    let Some(ops) = Browser::start(TEST).await else {
        return;
    };
    sign_up(&ops, &app, "ops@apps.test", "Operators").await;
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'ops@apps.test'")
        .execute(app.db.pool())
        .await
        .expect("an operator");
    ops.visit(
        &app,
        "/operator/apps",
        "Waiting for review",
        "operator-apps-queue",
    )
    .await;
    ops.wait_for_text("by Acme Apps").await;
    // A rejection needs a reason, said beside the field.
    ops.click_button("Reject Notes").await;
    ops.wait_for_text("not blank").await;
    ops.screenshot_themes("operator-apps-reject-refused").await;
    ops.set_viewport(Viewport::Phone).await;
    ops.screenshot_themes("operator-apps-phone").await;
    ops.set_viewport(Viewport::Desktop).await;
    ops.click_button("Publish Notes").await;
    ops.wait_for_text("“Notes” is published").await;
    ops.screenshot_themes("operator-apps-published").await;

    dev.reload().await;
    dev.wait_for_text("Published").await;
    dev.click_link("Notes").await;
    dev.wait_for_text("it is in the directory").await;
    dev.screenshot_themes("app-published").await;

    ops.close().await;
    dev.close().await;
}
