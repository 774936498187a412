//! The account's authorized apps in a real browser: the person reaches the
//! page from the navigation, sees the apps they allowed with what each
//! may do, and revokes one. Light and dark, and 375 px wide.
//!
//! SQLite only: the page calls the same feature functions as the API,
//! whose storage `apps_authorized` covers on both backends.

use serde_json::json;

use crate::apps_authorized::authorize;
use crate::support::accounts::{data, PASSWORD};
use crate::support::apps::publisher;
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str = "apps_authorized_browser::a_person_revokes_an_app_they_authorized";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_revokes_an_app_they_authorized() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let notes = publisher(
        &app,
        "dev@notes.test",
        json!({"name": "Notes", "homepage_url": "https://notes.example.com"}),
    )
    .await;
    let calendar = data(
        app.post_as(
            "/api/v1/apps",
            &notes.token,
            &json!({"slug": "team-calendar", "name": "Team Calendar", "client_type": "public",
                    "redirect_uris": ["https://calendar.example.com/cb"],
                    "scopes": ["openid", "profile", "organizations:read", "members:read"]}),
        )
        .await,
    )
    .await;

    browser.goto(&app, "/sign-up").await;
    browser.fill("Organization name", "Acme").await;
    browser.fill("Your name", "Ada").await;
    browser.fill("Email", "ada@authorized-browser.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Requests this month").await;
    let ada = app.user_id("ada@authorized-browser.test").await;

    // Nothing yet, reached from the navigation.
    browser.click_link("Authorized apps").await;
    browser.wait_for_path("/account/apps").await;
    browser
        .wait_for_text("You have not signed in to any app")
        .await;
    browser.screenshot_themes("authorized-apps-empty").await;

    authorize(
        &app,
        &ada,
        notes.client_id(),
        &["openid", "profile", "email"],
    )
    .await;
    authorize(
        &app,
        &ada,
        calendar["id"].as_str().unwrap(),
        &["openid", "profile", "organizations:read", "members:read"],
    )
    .await;
    browser
        .visit(
            &app,
            "/account/apps",
            "see your email address",
            "authorized-apps",
        )
        .await;
    browser.wait_for_text("Team Calendar").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.screenshot_themes("authorized-apps-phone").await;
    browser.set_viewport(Viewport::Desktop).await;

    browser.click_button("Revoke Notes").await;
    browser.wait_for_text("Notes is revoked").await;
    browser.assert_no_text("see your email address").await;
    browser.wait_for_text("Team Calendar").await;
    browser.screenshot_themes("authorized-apps-revoked").await;
    let revoked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM oauth_tokens WHERE app_id = $1 AND revoked_at IS NOT NULL",
    )
    .bind(notes.client_id())
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(revoked, 2);

    browser.close().await;
}
