//! The operator's Mail suppressions page in a real browser: two addresses
//! reported by the bounce webhook are listed, then one is lifted. SQLite
//! only (the HTTP tests in `mail_suppressions.rs` cover both backends);
//! the page is saved light and dark.

use serde_json::json;

use crate::support::accounts::PASSWORD;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp};

const TEST: &str = "mail_suppressions_browser::an_operator_reads_and_lifts_suppressions";
const SECRET: &str = "bounce-secret-for-the-browser-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reads_and_lifts_suppressions() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.mail_bounce_secret = Some(SECRET.to_string().into());
    })
    .await;
    app.register("ops@example.com", "Operators").await;
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'ops@example.com'")
        .execute(app.db.pool())
        .await
        .unwrap();
    for body in [
        json!({"type": "bounce", "address": "ada@gone.example", "description": "550 5.1.1 The email account that you tried to reach does not exist"}),
        json!({"type": "complaint", "address": "bob@acme.example", "description": "complaint: abuse"}),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/mail/bounces"))
            .header("x-bounce-secret", SECRET)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", "ops@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.element("details.account").await;
    browser
        .visit(
            &app,
            "/operator/mail-suppressions",
            "bob@acme.example",
            "operator-mail-suppressions",
        )
        .await;
    browser.wait_for_text("ada@gone.example").await;
    browser.wait_for_text("Complaint").await;
    browser.click_button("Lift bob@acme.example").await;
    browser
        .wait_for_text("bob@acme.example is no longer suppressed")
        .await;
    browser
        .screenshot_themes("operator-mail-suppression-lifted")
        .await;
    browser.close().await;
}
