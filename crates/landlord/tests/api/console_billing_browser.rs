//! The billing pages in a real browser: the owner opens billing, changes
//! the plan (the effect shown, then confirmed), pays the open invoice
//! through the Stripe stand-in's checkout, and sees it paid with a receipt.
//!
//! SQLite only, like `console_journey`: the pages call the same feature
//! functions as the API, whose storage the HTTP tests cover on both
//! backends. The stand-in's checkout URL is on a host the browser cannot
//! reach, so after the browser leaves for it the test delivers the
//! provider's signed webhook and returns to the result URL the provider
//! would send the person back to. Every page is saved light and dark,
//! billing and the receipt also 375 px wide.

use crate::support::accounts::PASSWORD;
use crate::support::billing::planted_counters;
use crate::support::browser::{Browser, Viewport};
use crate::support::payments::billed;
use crate::support::Backend;

const TEST: &str = "console_billing_browser::an_owner_changes_the_plan_and_pays_an_invoice";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_changes_the_plan_and_pays_an_invoice() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let b = billed(Backend::Sqlite, 3).await;
    let billing = format!("/o/{}/billing", b.organization_id);

    browser.goto(&b.app, "/sign-in").await;
    browser.fill("Email", "payer@example.com").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("Requests this month").await;

    // The mails' link: the current organization's billing page.
    browser.goto(&b.app, "/billing").await;
    browser.wait_for_path(&billing).await;
    browser.wait_for_text("Plan: starter").await;
    browser.wait_for_text("60.00 USD").await;
    browser.screenshot_themes("billing").await;

    // Upgrade: the effect shown first, applied once confirmed.
    browser
        .choose("New plan", "pro — 50.00 USD a month, unlimited requests")
        .await;
    browser.click_button("Review the change").await;
    browser.wait_for_text("This is an upgrade").await;
    browser.wait_for_text("takes effect now").await;
    browser.screenshot_themes("change-plan").await;
    browser.click_button("Upgrade now").await;
    browser.wait_for_text("Your plan is now pro").await;
    browser.wait_for_text("Plan: pro").await;
    browser.screenshot_themes("plan-changed").await;

    // The open invoice: pay through Stripe.
    let invoice = format!("{billing}/invoices/{}", b.cycle_id);
    browser
        .visit(&b.app, &invoice, "Pay 60.00 USD", "invoice")
        .await;
    browser.click_button("Continue to checkout").await;
    crate::support::eventually::eventually(
        format_args!("the checkout to start"),
        crate::support::browser::PAGE_TIMEOUT,
        async || {
            (b.count("SELECT COUNT(*) FROM payments WHERE status = 'initiated'")
                .await
                == 1)
                .then_some(())
        },
    )
    .await;
    let left_for = browser.current_url().await;
    assert_eq!(
        left_for.host_str(),
        Some("checkout.stripe.test"),
        "the browser followed the redirect to the provider: {left_for}"
    );

    // Back from the provider before its webhook: waiting.
    let result = format!("/billing?paid={}", b.cycle_id);
    browser
        .visit(
            &b.app,
            &result,
            "waiting for the provider's confirmation",
            "payment-waiting",
        )
        .await;

    // The provider's signed webhook: paid, with a receipt.
    assert_eq!(
        b.post_signed_stripe("evt_browser_1", 6000).await.status(),
        200
    );
    b.wait_for_cycle("paid").await;
    browser
        .visit(&b.app, &result, "this invoice is paid", "receipt")
        .await;
    browser.wait_for_text("cs_test_1").await;
    browser.assert_no_text("Continue to checkout").await;

    // Some usage this month, for the overview's chart.
    let now = landlord_core::Timestamp::now();
    let today = landlord_metering::daily::start_of_day(now);
    let start = landlord_billing::Period::of(now).start_ms();
    let day = landlord_metering::daily::DAY_MS;
    for (n, at) in (start..=today.millis()).step_by(day as usize).enumerate() {
        let requests = 200 + (n as i64 * 137) % 900;
        planted_counters(&b.app, &b.organization_id, "", requests, at).await;
    }

    // On a phone.
    browser.set_viewport(Viewport::Phone).await;
    browser
        .visit(&b.app, &billing, "Plan: pro", "billing-phone")
        .await;
    browser
        .visit(&b.app, &result, "this invoice is paid", "receipt-phone")
        .await;
    browser
        .visit(
            &b.app,
            &format!("/o/{}", b.organization_id),
            "Requests by day",
            "overview-phone",
        )
        .await;
    browser.set_viewport(Viewport::Desktop).await;
    browser
        .visit(
            &b.app,
            &format!("/o/{}", b.organization_id),
            "Bill so far",
            "overview",
        )
        .await;
    browser.close().await;
}
