//! The overview's onboarding checklist and usage chart, a key's page and
//! the audit log in a real browser: light and dark, 1280 and 375 px wide.
//! The copy button of the first request copies the command.
//!
//! SQLite only: the pages' figures are tested over HTTP on both backends
//! (`console_records`).

use serde_json::json;

use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::json;
use crate::support::billing::planted_counters;
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str = "console_records_browser::the_overview_and_the_records_in_a_browser";

async fn scroll_to(browser: &Browser, selector: &str) {
    browser
        .script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); return true;",
            vec![json!(selector)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_and_the_records_in_a_browser() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let data = app.register("ada@records.test", "Records Inc").await;
    let token = token_of(&data, "access_token");
    let org = token_of(&data["organization"], "id");
    let created = app
        .post_as("/api/v1/keys", &token, &json!({ "name": "ci" }))
        .await;
    let key_id = token_of(&json(created).await["data"], "id");
    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", "ada@records.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("Get started").await;
    let overview = format!("/o/{org}");

    // The checklist: one of four done (a key), the first request ready
    // to copy; at 375 px too.
    browser
        .visit(&app, &overview, "1 of 4 done", "overview-checklist")
        .await;
    // The copy script shows its buttons (hidden without script).
    let shown = browser
        .script(
            "return !document.querySelector('button[data-copy=\"first-request\"]').hidden;",
            vec![],
        )
        .await;
    assert_eq!(shown, json!(true));
    browser.set_viewport(Viewport::Phone).await;
    browser
        .visit(&app, &overview, "1 of 4 done", "phone-overview-checklist")
        .await;
    browser.set_viewport(Viewport::Desktop).await;

    // Then a month of traffic so far, a little every day.
    let now = landlord_core::Timestamp::now();
    let today = landlord_metering::daily::start_of_day(now);
    let start = landlord_billing::Period::of(now).start_ms();
    let day_ms = landlord_metering::daily::DAY_MS;
    let mut at = start;
    let mut n = 0_i64;
    while at <= today.millis() {
        planted_counters(&app, &org, &key_id, 15 + (n * 37) % 40, at + 3_600_000).await;
        at += day_ms;
        n += 1;
    }

    browser
        .visit(&app, &overview, "2 of 4 done", "overview-after-requests")
        .await;
    scroll_to(&browser, ".card.usage").await;
    browser.screenshot_themes("overview-chart").await;

    // A key's own page and chart.
    browser
        .visit(
            &app,
            &format!("/o/{org}/keys/{key_id}"),
            "This key's requests by day",
            "key-page",
        )
        .await;

    // The audit log as sentences.
    browser
        .visit(
            &app,
            &format!("/o/{org}/audit"),
            "ada@records.test created API key ‘ci’",
            "audit",
        )
        .await;
    browser
        .script(
            "document.querySelector('details.raw').open = true; return true;",
            vec![],
        )
        .await;
    browser.screenshot_themes("audit-json-open").await;
    browser
        .visit(&app, &format!("/o/{org}/events"), "API key ‘ci’", "events")
        .await;

    // 375 px wide.
    browser.set_viewport(Viewport::Phone).await;
    browser.goto(&app, &overview).await;
    browser.wait_for_text("2 of 4 done").await;
    scroll_to(&browser, ".card.usage").await;
    browser.screenshot_themes("phone-overview-chart").await;
    browser
        .visit(
            &app,
            &format!("/o/{org}/audit"),
            "created API key ‘ci’",
            "phone-audit",
        )
        .await;
    browser.close().await;
}
