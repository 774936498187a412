//! The directory and installed apps in a real browser: a signed-out
//! visitor browses the directory; an owner signs up, searches it, opens
//! an app, installs it after the consent step listing its scopes, sees it
//! among the installed apps and uninstalls it. Every page in the light
//! and the dark scheme, the directory and the installed apps also 375 px
//! wide.
//!
//! SQLite only: the pages call the same functions as the API, whose
//! storage `apps_install` covers on both backends.

use serde_json::json;

use crate::support::accounts::PASSWORD;
use crate::support::app::TestApp;
use crate::support::apps::publisher;
use crate::support::browser::{Browser, Viewport};
use crate::support::Backend;

const TEST: &str =
    "console_apps_install_browser::an_owner_installs_an_app_from_the_directory_and_uninstalls_it";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_installs_an_app_from_the_directory_and_uninstalls_it() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    publisher(
        &app,
        "maker@apps.test",
        json!({"description": "Shared notes for the whole team, searchable and tidy.",
               "category": "productivity",
               "organization_scopes": ["organizations:read", "members:read"]}),
    )
    .await;
    publisher(
        &app,
        "books@apps.test",
        json!({"slug": "ledger", "name": "Ledger", "category": "finance",
               "description": "Books, invoices and a monthly summary of what came in."}),
    )
    .await;
    sqlx::query("UPDATE apps SET status = 'published', published_at = updated_at")
        .execute(app.db.pool())
        .await
        .expect("published");

    // Signed out: the directory is public.
    browser
        .visit(&app, "/apps", "Ledger", "apps-directory-signed-out")
        .await;
    browser.wait_for_text("Notes").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.screenshot_themes("apps-directory-phone").await;
    browser.set_viewport(Viewport::Desktop).await;

    browser.goto(&app, "/sign-up").await;
    browser.fill("Organization name", "Acme Apps").await;
    browser.fill("Your name", "Ada").await;
    browser.fill("Email", "ada@apps.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Requests this month").await;
    let overview = browser.current_path().await;

    // Search, then the app's page.
    browser.goto(&app, "/apps").await;
    browser.fill("Search", "team").await;
    browser.click_button("Search").await;
    browser.wait_for_text("Clear the search").await;
    browser.assert_no_text("Ledger").await;
    browser.screenshot_themes("apps-directory-search").await;
    browser.click_link("Notes").await;
    browser
        .wait_for_text("see the organization's members and their roles")
        .await;
    browser.wait_for_text("By maker@apps.test org").await;
    browser.screenshot_themes("apps-app-page").await;

    // The consent step, then installed.
    browser.click_link("Install in Acme Apps").await;
    browser.wait_for_text("Install Notes in Acme Apps?").await;
    browser.screenshot_themes("apps-install-consent").await;
    browser.click_button("Allow and install").await;
    browser
        .wait_for_text("Notes is installed in Acme Apps.")
        .await;
    assert_eq!(
        browser.current_path().await,
        format!("{overview}/apps/installed")
    );
    browser.screenshot_themes("apps-installed").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.screenshot_themes("apps-installed-phone").await;
    browser.set_viewport(Viewport::Desktop).await;
    // The app's page says so.
    browser.goto(&app, "/apps/notes").await;
    browser.wait_for_text("Installed in Acme Apps.").await;

    // Uninstall, confirmed; the notice shows once.
    browser
        .goto(&app, &format!("{overview}/apps/installed"))
        .await;
    browser.click_link("Uninstall").await;
    browser.wait_for_text("Uninstall Notes?").await;
    browser.screenshot_themes("apps-uninstall-confirm").await;
    browser.click_button("Uninstall").await;
    browser.wait_for_text("Notes is uninstalled").await;
    browser
        .wait_for_text("No app is installed in Acme Apps.")
        .await;
    browser.screenshot_themes("apps-uninstalled").await;
    browser.reload().await;
    browser
        .wait_for_text("No app is installed in Acme Apps.")
        .await;
    browser.assert_no_text("Notes is uninstalled").await;
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM app_installations WHERE uninstalled_at IS NOT NULL",
            &[]
        )
        .await,
        1
    );

    browser.close().await;
}
