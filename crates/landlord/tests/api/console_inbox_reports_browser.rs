//! The inbox reports in a real browser, light and dark, 1280 and 375 px
//! wide: the empty state a newcomer sees, then a month of conversations —
//! the totals, the three charts, the table by agent, the day by day.
//!
//! SQLite only: the page's figures are tested over HTTP on both backends
//! (`console_inbox_reports`).

use serde_json::json;

use crate::console_inbox_reports::{seed_channel, seed_conversation, Seed};
use crate::support::accounts::{token_of, PASSWORD};
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str = "console_inbox_reports_browser::the_inbox_reports_in_a_browser";

async fn scroll_to(browser: &Browser, selector: &str) {
    browser
        .script(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); return true;",
            vec![json!(selector)],
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_reports_in_a_browser() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let data = app.register("ada@reports.test", "Reports Inc").await;
    let org = token_of(&data["organization"], "id");
    let ada_id = app.user_id("ada@reports.test").await;
    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", "ada@reports.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_text("Get started").await;

    // From the inbox's navigation to the empty state.
    browser.goto(&app, &format!("/o/{org}/inbox")).await;
    browser.click_link("Reports").await;
    browser
        .wait_for_text("No conversations to report on yet")
        .await;
    browser.screenshot_themes("reports-empty").await;

    // A month of conversations: a few a day on two numbers, answered in
    // half a minute to ten minutes, resolved in half an hour to six
    // hours; some Ada's, some unassigned, some still open.
    let support = seed_channel(&app, &org, 1, "Support line").await;
    let sales = seed_channel(&app, &org, 2, "Sales line").await;
    let day_ms = 86_400_000_i64;
    let today = landlord_core::Timestamp::now().millis() / day_ms * day_ms;
    let mut n = 0_u64;
    for back in 0..30_i64 {
        let day = today - back * day_ms;
        let count = 2 + (back * 7) % 5;
        for i in 0..count {
            let k = back * 13 + i * 29;
            let open = (n % 9) == 4;
            seed_conversation(
                &app,
                &org,
                Seed {
                    n,
                    channel: if i % 3 == 2 { &sales } else { &support },
                    opened_at: day + 8 * 3_600_000 + i * 47 * 60_000,
                    first_response: Some(30 + (k % 20) * 30),
                    resolution: (!open).then_some(1800 + ((back * 17 + i * 31) % 12) * 1800),
                    agent: (i % 4 != 3).then_some(ada_id.as_str()),
                    label: Some(["billing", "delivery", "vip"][(k % 3) as usize]),
                },
            )
            .await;
            n += 1;
        }
    }

    let page = format!("/o/{org}/inbox/reports");
    browser
        .visit(&app, &page, "Conversations per day", "reports-month")
        .await;
    scroll_to(&browser, ".report-charts").await;
    browser.screenshot_themes("reports-times").await;

    // By agent: the form's grouping, the summary by agent.
    browser.choose("Group by", "Agent").await;
    browser.click_button("Show").await;
    browser.wait_for_text("By agent").await;
    assert!(browser.page_text().await.contains("Unassigned"));
    scroll_to(&browser, "#summary-heading").await;
    browser.screenshot_themes("reports-by-agent").await;

    // A bad range is said next to the field.
    browser
        .visit(
            &app,
            &format!("{page}?from=2026-12-09&to=2026-12-01"),
            "Must not be after to",
            "reports-bad-range",
        )
        .await;

    // 375 px wide.
    browser.set_viewport(Viewport::Phone).await;
    browser
        .visit(
            &app,
            &format!("{page}?group_by=label"),
            "Conversations per day",
            "phone-reports",
        )
        .await;
    scroll_to(&browser, "#counts-heading").await;
    browser.screenshot_themes("phone-reports-counts").await;
    scroll_to(&browser, "#summary-heading").await;
    browser.screenshot_themes("phone-reports-by-label").await;
    browser.close().await;
}
