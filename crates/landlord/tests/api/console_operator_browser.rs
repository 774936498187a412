//! The operator console in a real browser: an operator signs in, reads the
//! figures and the MRR chart, finds an organization, replays a
//! dead-lettered webhook event and sees it processed, resolves a
//! discrepancy, looks at the dead-lettered jobs; then an owner filters the
//! organization's audit log.
//!
//! SQLite only: the pages store nothing of their own (the HTTP tests in
//! `console_operator.rs` cover both backends). Every page is saved light
//! and dark, the figures also 375 px wide.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::json as body_json;
use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
use crate::support::eventually::eventually;
use crate::support::payments::{billed, paystack_event, post_paystack};
use crate::support::Backend;

const TEST: &str =
    "console_operator_browser::an_operator_replays_an_event_and_an_owner_reads_the_audit_log";

/// Reloads until an element matches `selector`.
async fn reload_until_element(browser: &Browser, selector: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    let script = format!("return document.querySelector({selector:?}) !== null;");
    loop {
        if browser.script(&script, vec![]).await.as_bool() == Some(true) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gave up reloading for {selector:?}; the page shows:\n{}",
            browser.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        browser.reload().await;
    }
}

async fn sign_in(browser: &Browser, email: &str) {
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.element("details.account").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_an_event_and_an_owner_reads_the_audit_log() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    // A starter organization with October billed, a Paystack event that
    // died while the provider was down, and a discrepancy to look at.
    let b = billed(Backend::Sqlite, 2).await;
    let checkout = body_json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"].as_str().unwrap().to_string();
    b.stand_in.state.lock().unwrap().verify_fails = true;
    let mut event: Value = serde_json::from_slice(&paystack_event(&reference, 77)).unwrap();
    event["data"]["metadata"] = json!({"billing_cycle_id": b.cycle_id});
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(post_paystack(&b, &body).await.status(), 200);
    eventually(
        "the event to be dead-lettered",
        Duration::from_secs(15),
        async || {
            let (status,): (String,) = sqlx::query_as("SELECT status FROM provider_webhook_events")
                .fetch_one(b.app.db.pool())
                .await
                .unwrap();
            (status == "dead").then_some(())
        },
    )
    .await;
    sqlx::query(
        "INSERT INTO reconciliation_discrepancies (id, provider, organization_id, kind, ours, theirs, created_at) \
         VALUES ($1, 'stripe', $2, 'amount_mismatch', '60.00 USD', '50.00 USD', 1)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&b.organization_id)
    .execute(b.app.db.pool())
    .await
    .unwrap();
    token_of(
        &b.app.register("ops@example.com", "Operators").await,
        "access_token",
    );
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'ops@example.com'")
        .execute(b.app.db.pool())
        .await
        .unwrap();

    // The operator signs in and opens the console from the header.
    browser.goto(&b.app, "/sign-in").await;
    sign_in(&browser, "ops@example.com").await;
    browser.open_account_menu().await;
    browser.click_link("Operator console").await;
    browser.wait_for_path("/operator").await;
    browser.wait_for_text("MRR by month").await;
    browser.wait_for_text("10.00 USD").await;
    browser.element("figure.chart svg rect.bar.current").await;
    browser.screenshot_themes("operator-figures").await;
    browser
        .script(
            "document.querySelector('figure.chart').scrollIntoView();",
            vec![],
        )
        .await;
    browser.screenshot_themes("operator-mrr-chart").await;
    browser.set_viewport(Viewport::Phone).await;
    browser.reload().await;
    browser.wait_for_text("MRR by month").await;
    browser.screenshot_themes("operator-figures-phone").await;
    browser.set_viewport(Viewport::Desktop).await;
    browser.reload().await;

    // Organizations: search by a member's email.
    browser.click_link("Organizations").await;
    browser.wait_for_path("/operator/organizations").await;
    browser.fill("Name or email", "payer@").await;
    browser.click_button("Search").await;
    browser.wait_for_text("Clear").await;
    browser.wait_for_text("starter").await;
    let rows = browser
        .script(
            "return document.querySelectorAll('table.list tbody tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows.as_u64(), Some(1), "only the payer's organization");
    browser.screenshot_themes("operator-organizations").await;

    // Webhook events: the dead one with its error; replayed once the
    // provider is back, it shows processed.
    browser.click_link("Webhook events").await;
    browser.wait_for_path("/operator/webhooks").await;
    browser.wait_for_text("answered 500").await;
    browser.screenshot_themes("operator-webhooks-dead").await;
    b.stand_in.state.lock().unwrap().verify_fails = false;
    browser
        .element("form[action$='/replay'] button")
        .await
        .click()
        .await
        .expect("the replay button clicked");
    browser.wait_for_text("is queued again").await;
    browser
        .screenshot_themes("operator-webhooks-replayed")
        .await;
    browser.choose("Status", "processed").await;
    browser.click_button("Show").await;
    reload_until_element(&browser, "span.status.processed").await;
    browser
        .screenshot_themes("operator-webhooks-processed")
        .await;
    b.wait_for_cycle("paid").await;

    // Discrepancies: resolved with a note.
    browser.click_link("Discrepancies").await;
    browser.wait_for_text("amount mismatch").await;
    browser.screenshot_themes("operator-discrepancies").await;
    browser.fill("note", "Partial refund agreed").await;
    browser.click_button("Resolve").await;
    browser.wait_for_text("is resolved").await;
    browser.wait_for_text("No unresolved discrepancy").await;
    browser
        .screenshot_themes("operator-discrepancies-resolved")
        .await;

    // Jobs and mails: whatever is dead-lettered, with its error.
    browser.click_link("Jobs and mails").await;
    browser.wait_for_path("/operator/jobs").await;
    browser.wait_for_text("Background work").await;
    browser.screenshot_themes("operator-jobs").await;

    // The organization's owner: the audit log, filtered by action.
    browser.sign_out().await;
    browser.wait_for_path("/sign-in").await;
    sign_in(&browser, "payer@example.com").await;
    browser.assert_no_text("Operator").await;
    browser.click_link("Audit log").await;
    browser.wait_for_text("Who did what").await;
    browser.wait_for_text("auth.register").await;
    browser.screenshot_themes("audit-log").await;
    browser.fill("Action", "auth.register").await;
    browser.click_button("Filter").await;
    browser.wait_for_text("Clear the filters").await;
    browser.wait_for_text("auth.register").await;
    browser.screenshot_themes("audit-log-filtered").await;
    browser.fill("Action", "nothing.matches").await;
    browser.click_button("Filter").await;
    browser
        .wait_for_text("No entry matches these filters.")
        .await;
    browser.close().await;
}
