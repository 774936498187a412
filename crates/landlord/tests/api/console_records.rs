//! The console's first hour and its records over HTTP: the overview's
//! onboarding checklist ticked from the organization's real state, the
//! audit log and events read as sentences with links and exact times, the
//! usage chart (axes, quota line, the figures in a table) on the overview
//! and per key, figures with thousands separators.

use serde_json::json;

use crate::backend_tests;
use crate::console::Browser;
use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::json;
use crate::support::billing::{change_plan, planted_counters};
use crate::support::{Backend, TestApp};

const PUBLIC_URL: &str = "http://records.test:8080";

/// An organization registered through the API, its owner signed in to the
/// console: (browser, access token, organization id).
async fn owner<'a>(app: &'a TestApp, email: &str) -> (Browser<'a>, String, String) {
    let data = app.register(email, "Records Inc").await;
    let token = token_of(&data, "access_token");
    let org = token_of(&data["organization"], "id");
    let browser = Browser::new(app);
    let seen = browser.sign_in(email, PASSWORD).await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    (browser, token, org)
}

/// An API key named `name`; returns its id.
async fn key(app: &TestApp, token: &str, name: &str) -> String {
    let created = app
        .post_as("/api/v1/keys", token, &json!({ "name": name }))
        .await;
    assert_eq!(created.status(), 201);
    token_of(&json(created).await["data"], "id")
}

/// A page's markup with the entities values are escaped with decoded
/// (minijinja escapes `/`, quotes and `&` in values).
fn decoded(body: &str) -> String {
    body.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The steps the overview's checklist shows as done, and all it shows.
fn ticks(body: &str) -> (usize, usize) {
    (
        body.matches("<li class=\"step done\"").count(),
        body.matches("<li class=\"step ").count(),
    )
}

async fn onboarding_ticks_follow_real_state(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.public_url = PUBLIC_URL.into()).await;
    let (ada, token, org) = owner(&app, "ada@onboarding.test").await;
    let overview = format!("/o/{org}");

    // A new organization: four steps, none done; the verify banner stays.
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ticks(&page.body), (0, 4), "{}", page.body);
    assert!(page.body.contains("0 of 4 done"));
    assert!(page.body.contains("Verify your email."));
    assert!(page
        .body
        .contains(&format!("curl -X POST {PUBLIC_URL}/api/v1/messages/send")));
    assert!(page.body.contains("X-API-Key: $LANDLORD_KEY"));
    assert!(page.body.contains("ada@onboarding.test"));
    assert!(page.body.contains("data-copy=\"first-request\""));
    assert!(page.body.contains("href=\"/docs\""));
    assert!(page.body.contains(&format!("href=\"/o/{org}/keys/new\"")));

    // A key: one.
    let key_id = key(&app, &token, "ci").await;
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(ticks(&page.body), (1, 4), "{}", page.body);
    assert!(page
        .body
        .contains("<li class=\"step done\" data-step=\"key\">"));

    // A request recorded (last month: any request ever counts): two.
    let last_month = landlord_billing::Period::of(landlord_core::Timestamp::now()).start_ms()
        - landlord_metering::daily::DAY_MS;
    planted_counters(&app, &org, &key_id, 1, last_month).await;
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(ticks(&page.body), (2, 4), "{}", page.body);
    assert!(page
        .body
        .contains("<li class=\"step done\" data-step=\"request\">"));

    // An invitation pending: three.
    let invited = app
        .post_as(
            "/api/v1/team/invite",
            &token,
            &json!({ "email": "cy@onboarding.test", "role": "member" }),
        )
        .await;
    assert!(invited.status().is_success(), "{}", invited.status());
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(ticks(&page.body), (3, 4), "{}", page.body);
    assert!(page
        .body
        .contains("<li class=\"step done\" data-step=\"teammate\">"));

    // A member sees only the steps they may take: no team, no plan.
    let bob = Browser::new(&app);
    bob.sign_up("bob@onboarding.test", "Bob's").await;
    app.add_membership(&org, &app.user_id("bob@onboarding.test").await, "member")
        .await;
    let mut theirs = bob.get(&overview).await;
    theirs.body = decoded(&theirs.body);
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert!(!theirs.body.contains("data-step=\"teammate\""));
    assert!(!theirs.body.contains("data-step=\"plan\""));
    assert!(!theirs.body.contains(&format!("href=\"/o/{org}/billing\"")));

    // Hidden in one browser: gone there (a form without the token is
    // refused), still shown in another.
    let elsewhere = Browser::new(&app);
    let seen = elsewhere.sign_in("ada@onboarding.test", PASSWORD).await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    let hide = format!("/o/{org}/onboarding/hide");
    let forged = elsewhere.post(&hide, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    let hidden = elsewhere.submit(&overview, &hide, &[]).await;
    assert_eq!(hidden.status, 303, "{}", hidden.body);
    assert_eq!(hidden.location.as_deref(), Some(overview.as_str()));
    let there = elsewhere.get(&overview).await;
    assert_eq!(there.status, 200, "{}", there.body);
    assert_eq!(ticks(&there.body), (0, 0), "{}", there.body);
    assert!(!there.body.contains("Get started"));
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(ticks(&page.body), (3, 4), "{}", page.body);

    // A plan chosen: every step done, the checklist gone.
    let changed = change_plan(&app, &token, "starter").await;
    assert!(changed.status().is_success(), "{}", changed.status());
    let mut page = ada.get(&overview).await;
    page.body = decoded(&page.body);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ticks(&page.body), (0, 0), "{}", page.body);
    assert!(!page.body.contains("Get started"));
}

/// The text of a page with its tags removed (spaces kept).
fn text_of(body: &str) -> String {
    let mut text = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

async fn records_read_as_sentences_with_links(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, token, org) = owner(&app, "ada@records.test").await;
    let key_id = key(&app, &token, "ci").await;
    let invited = app
        .post_as(
            "/api/v1/team/invite",
            &token,
            &json!({ "email": "cy@records.test", "role": "admin" }),
        )
        .await;
    assert!(invited.status().is_success(), "{}", invited.status());

    let mut audit = ada.get(&format!("/o/{org}/audit")).await;
    audit.body = decoded(&audit.body);
    assert_eq!(audit.status, 200, "{}", audit.body);
    let team = format!("/o/{org}/team");
    let key_page = format!("/o/{org}/keys/{key_id}");
    assert!(
        audit.body.contains(&format!(
            "<a href=\"{team}\">ada@records.test</a> created <a href=\"{key_page}\">API key ‘ci’</a>"
        )),
        "{}",
        audit.body
    );
    assert!(text_of(&audit.body).contains("ada@records.test invited cy@records.test as admin"));
    // Relative times, the exact UTC time on hover, computed on the server.
    assert!(audit.body.contains("<time datetime=\""));
    assert!(
        audit.body.contains(" UTC\">just now</time>"),
        "{}",
        audit.body
    );
    // The entry's JSON behind a disclosure, with a copy button.
    assert!(audit.body.contains("<details class=\"raw\">"));
    assert!(audit.body.contains("\"action\": \"api_key.created\""));
    assert!(audit.body.contains("data-copy=\"entry-"));
    assert!(audit.body.contains("/static/copy.js"));

    let mut events = ada.get(&format!("/o/{org}/events")).await;
    events.body = decoded(&events.body);
    assert_eq!(events.status, 200, "{}", events.body);
    assert!(
        events.body.contains(&format!(
            "<a href=\"{team}\">ada@records.test</a> created <a href=\"{key_page}\">API key ‘ci’</a>"
        )),
        "{}",
        events.body
    );
    assert!(text_of(&events.body).contains("ada@records.test invited cy@records.test as admin"));
    assert!(events.body.contains(" UTC\">just now</time>"));
    assert!(
        events.body.contains("data-copy=\"event-evt_")
            || events.body.contains("data-copy=\"event-")
    );
    assert!(events.body.contains("\"type\": \"api_key.created\""));

    // The key's page, which the sentences link to, answers.
    let mut page = ada.get(&key_page).await;
    page.body = decoded(&page.body);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains(&format!("<code id=\"key-id\">{key_id}</code>")));
    assert!(page.body.contains("data-copy=\"key-id\""));
}

async fn usage_charts_and_figures_read_at_a_glance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, token, org) = owner(&app, "ada@figures.test").await;
    let key_id = key(&app, &token, "busy").await;
    let other = key(&app, &token, "quiet").await;
    let now = landlord_core::Timestamp::now();
    let today = landlord_metering::daily::start_of_day(now);
    planted_counters(&app, &org, &key_id, 12_345, now.millis()).await;
    planted_counters(&app, &org, &other, 5, now.millis()).await;
    let day = today.date();

    // The overview: the month's figures with separators, the chart with
    // its axes, the quota line, a tooltip per day and the same figures in
    // a table.
    let mut page = ada.get(&format!("/o/{org}")).await;
    page.body = decoded(&page.body);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<strong>12,350</strong>"),
        "{}",
        page.body
    );
    for expected in [
        "class=\"axis x\"",
        "class=\"axis y\"",
        "class=\"quota\"",
        "Included in the plan: ",
        "Requests, running total",
        &format!("<title>{day}: 12,350 requests, 12,350 this month so far</title>"),
        "<summary>The figures by day</summary>",
        "<th scope=\"col\" class=\"num\">This month so far</th>",
        "<td data-label=\"Requests\" class=\"num\">12,350</td>",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }

    // The keys list and the key's own chart.
    let mut keys = ada.get(&format!("/o/{org}/keys")).await;
    keys.body = decoded(&keys.body);
    assert!(keys.body.contains(">12,345</td>"), "{}", keys.body);
    assert!(keys
        .body
        .contains(&format!("href=\"/o/{org}/keys/{key_id}\"")));
    let mut busy = ada.get(&format!("/o/{org}/keys/{key_id}")).await;
    busy.body = decoded(&busy.body);
    assert_eq!(busy.status, 200, "{}", busy.body);
    for expected in [
        "class=\"axis x\"",
        "class=\"quota\"",
        "The plan's quota (all keys)",
        &format!("<title>{day}: 12,345 requests, 12,345 this month so far</title>"),
        "<summary>The figures by day</summary>",
    ] {
        assert!(busy.body.contains(expected), "{expected}: {}", busy.body);
    }
    let mut quiet = ada.get(&format!("/o/{org}/keys/{other}")).await;
    quiet.body = decoded(&quiet.body);
    assert!(quiet.body.contains(&format!(
        "<title>{day}: 5 requests, 5 this month so far</title>"
    )));

    // Another organization's key answers 404, like a missing one.
    let (eve, _, _) = owner(&app, "eve@figures.test").await;
    let mut theirs = eve.get(&format!("/o/{org}/keys/{key_id}")).await;
    theirs.body = decoded(&theirs.body);
    assert_eq!(theirs.status, 404);
}

backend_tests!(
    onboarding_ticks_follow_real_state,
    records_read_as_sentences_with_links,
    usage_charts_and_figures_read_at_a_glance,
);
