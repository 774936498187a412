//! The operator console (`/operator`) and the organization's audit log
//! page over HTTP: who reaches them (a platform administrator; anyone else
//! signed in gets 404, signed out the sign-in page), that each figure is
//! the admin API's, and that each action (replay, resolve) is the API's
//! and audited like it; the audit page's filters, refusals and pages.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::{json, smtp_to};
use crate::support::eventually::eventually;
use crate::support::payments::{billed, paystack_event, post_paystack, Billed};
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    operator_pages_are_hidden_from_everyone_else,
    the_figures_are_the_admin_apis,
    an_operator_replays_a_dead_lettered_event,
    an_operator_resolves_a_discrepancy_with_a_note,
    the_audit_log_page_filters_and_refuses_members,
    an_operator_finds_organizations_and_sets_a_plan,
    an_operator_retries_a_dead_lettered_mail,
);

/// Every page of the operator console.
const OPERATOR_PAGES: [&str; 8] = [
    "/operator",
    "/operator/alerts",
    "/operator/integrations",
    "/operator/organizations",
    "/operator/jobs",
    "/operator/webhooks",
    "/operator/discrepancies",
    "/operator/backups",
];

/// A browser without JavaScript: keeps cookies, reads pages and forms.
struct Browser<'a> {
    app: &'a TestApp,
    cookies: Mutex<BTreeMap<String, String>>,
}

struct Seen {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Seen {
    /// The CSRF token of the page's first form.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').expect("the token's end");
        self.body[start..start + end].to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        let cookies = self.cookies.lock().expect("cookie jar");
        cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn receive(&self, response: reqwest::Response) -> Seen {
        let status = response.status();
        let headers = response.headers().clone();
        {
            let mut jar = self.cookies.lock().expect("cookie jar");
            for cookie in headers.get_all(SET_COOKIE).iter() {
                let cookie = cookie.to_str().unwrap_or_default();
                let pair = cookie.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() || cookie.contains("Max-Age=0") {
                        jar.remove(name);
                    } else {
                        jar.insert(name.to_string(), value.to_string());
                    }
                }
            }
        }
        Seen {
            status,
            location: headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: response.text().await.expect("page body"),
        }
    }

    async fn get(&self, path: &str) -> Seen {
        let response = self
            .app
            .client
            .get(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("request sent");
        self.receive(response).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Seen {
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("request sent");
        self.receive(response).await
    }

    /// Sends the form of the page at `page` to `action`, with its token.
    async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Seen {
        let seen = self.get(page).await;
        assert_eq!(seen.status, 200, "{page}: {}", seen.body);
        let csrf = seen.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }

    async fn sign_in(&self, email: &str) {
        let seen = self
            .submit(
                "/sign-in",
                "/sign-in",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(seen.status, 303, "sign in {email}: {}", seen.body);
    }
}

/// Makes `email` a platform administrator, as `landlord make-admin` does.
async fn make_admin(app: &TestApp, email: &str) {
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = $1")
        .bind(email)
        .execute(app.db.pool())
        .await
        .expect("admin made");
}

async fn insert_discrepancy(app: &TestApp) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO reconciliation_discrepancies (id, provider, kind, ours, theirs, created_at) VALUES ($1, 'stripe', 'amount_mismatch', '6000 USD', '5000 USD', 1)",
    )
    .bind(&id)
    .execute(app.db.pool())
    .await
    .expect("discrepancy planted");
    id
}

async fn operator_pages_are_hidden_from_everyone_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("owner@ops.test", "Tenants").await;
    let discrepancy = insert_discrepancy(&app).await;

    // Signed out: the sign-in page, for pages and actions alike.
    let visitor = Browser::new(&app);
    for path in OPERATOR_PAGES {
        let seen = visitor.get(path).await;
        assert_eq!(seen.status, 303, "{path}");
        assert_eq!(seen.location.as_deref(), Some("/sign-in"), "{path}");
    }

    // An organization's owner who is no platform administrator: the 404
    // page everywhere, even with a valid form, and no Operator link.
    let owner = Browser::new(&app);
    owner.sign_in("owner@ops.test").await;
    for path in OPERATOR_PAGES {
        let seen = owner.get(path).await;
        assert_eq!(seen.status, 404, "{path}");
        assert!(seen.body.contains("Page not found"), "{path}");
    }
    let home = owner.get("/").await.location.expect("the overview");
    let overview = owner.get(&home).await;
    assert!(!overview.body.contains("href=\"/operator\""));
    let csrf = overview.csrf();
    let refused = owner
        .post(
            &format!("/operator/discrepancies/{discrepancy}/resolve"),
            &[("csrf", &csrf), ("note", "mine")],
        )
        .await;
    assert_eq!(refused.status, 404);
    let refused = owner
        .post(
            &format!("/operator/webhooks/{discrepancy}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, 404);
    let refused = owner.post("/operator/backups", &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 404);
    let download = owner
        .get("/operator/backups/landlord-20261206T191500.123Z/download")
        .await;
    assert_eq!(download.status, 404);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM reconciliation_discrepancies WHERE resolved_at IS NULL",
            &[]
        )
        .await,
        1
    );

    // Made an operator: the link shows and the pages answer; a form
    // without the page's token is refused.
    make_admin(&app, "owner@ops.test").await;
    assert!(owner.get(&home).await.body.contains("href=\"/operator\""));
    for path in OPERATOR_PAGES {
        let seen = owner.get(path).await;
        assert_eq!(seen.status, 200, "{path}: {}", seen.body);
    }
    let forged = owner
        .post(
            &format!("/operator/discrepancies/{discrepancy}/resolve"),
            &[("csrf", "forged"), ("note", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("This form has expired"));
    // An id that is none: the 404 page.
    let missing = owner
        .submit(
            "/operator/discrepancies",
            "/operator/discrepancies/not-an-id/resolve",
            &[("note", "x")],
        )
        .await;
    assert_eq!(missing.status, 404);
}

/// The operator of `b`, signed in to the console and holding an API token.
async fn operator_of<'a>(b: &'a Billed) -> (Browser<'a>, String) {
    let ops = token_of(
        &b.app.register("ops@example.com", "Operators").await,
        "access_token",
    );
    make_admin(&b.app, "ops@example.com").await;
    let browser = Browser::new(&b.app);
    browser.sign_in("ops@example.com").await;
    (browser, ops)
}

fn money(amount: &Value, currency: &str) -> String {
    let amount = amount.as_i64().expect("an amount");
    format!("{}.{:02} {currency}", amount / 100, amount % 100)
}

async fn the_figures_are_the_admin_apis(backend: Backend) {
    let b = billed(backend, 3).await;
    // October's cycle is overdue: a figure of its own.
    sqlx::query("UPDATE billing_cycles SET status = 'overdue'")
        .execute(b.app.db.pool())
        .await
        .unwrap();
    let (browser, ops) = operator_of(&b).await;
    let figures = json(b.app.get_as("/api/v1/admin/figures", &ops).await).await["data"].clone();
    assert_eq!(figures["mrr"], json!({"USD": 1000}));
    let page = browser.get("/operator").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for (currency, amount) in figures["mrr"].as_object().unwrap() {
        assert!(body.contains(&money(amount, currency)), "MRR {amount}");
    }
    for (currency, amount) in figures["overdue_total"].as_object().unwrap() {
        assert!(body.contains(&money(amount, currency)), "overdue {amount}");
    }
    assert_eq!(figures["overdue_total"], json!({"USD": 6000}));
    assert!(body.contains("60.00 USD"));
    for (plan, count) in figures["organizations_by_plan"].as_object().unwrap() {
        assert!(body.contains(&format!("{plan}: {count}")), "{plan}");
    }
    assert!(body.contains("<strong>2</strong>"), "2 organizations");
    assert_eq!(figures["payment_failure_rate"], json!(1.0));
    assert!(body.contains("<strong>100.0 %</strong>"));
    assert!(figures["webhook_success_rate"].is_null());
    assert!(body.contains("No provider event has finished yet."));
    // The MRR chart: an SVG with a table beside it; this month's bar is
    // today's MRR, October's the recurring part its cycle billed.
    assert!(body.contains("<svg viewBox="));
    assert!(body.contains("role=\"img\""));
    let month = landlord_billing::Period::of(landlord_core::Timestamp::now()).key();
    assert!(
        body.contains(&format!(
            "{month} (current)</td><td data-label=\"MRR\">10.00 USD"
        )),
        "{body}"
    );
    let (base,): (i64,) = sqlx::query_as("SELECT base_amount FROM billing_cycles")
        .fetch_one(b.app.db.pool())
        .await
        .unwrap();
    if month.as_str() < "2027-10" {
        assert!(body.contains(&format!(
            "<title>2026-10: {}</title>",
            money(&json!(base), "USD")
        )));
    }
}

async fn an_operator_replays_a_dead_lettered_event(backend: Backend) {
    let b = billed(backend, 2).await;
    let checkout = json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"].as_str().unwrap().to_string();
    b.stand_in.state.lock().unwrap().verify_fails = true;
    let mut event: Value = serde_json::from_slice(&paystack_event(&reference, 91)).unwrap();
    event["data"]["metadata"] = json!({"billing_cycle_id": b.cycle_id});
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(post_paystack(&b, &body).await.status(), 200);
    let event_id: String = eventually(
        "the event to be dead-lettered",
        Duration::from_secs(15),
        async || {
            let row: (String, String) =
                sqlx::query_as("SELECT id, status FROM provider_webhook_events")
                    .fetch_one(b.app.db.pool())
                    .await
                    .unwrap();
            (row.1 == "dead").then_some(row.0)
        },
    )
    .await;
    let (browser, ops) = operator_of(&b).await;

    // The page lists what the API lists, with the error.
    let listed =
        json(b.app.get_as("/api/v1/admin/webhook-events", &ops).await).await["data"].clone();
    assert_eq!(listed[0]["id"], event_id.as_str());
    let page = browser.get("/operator/webhooks").await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains(&format!("/operator/webhooks/{event_id}/replay")));
    assert!(page
        .body
        .contains("<span class=\"status dead\">dead</span>"));
    let error = listed[0]["last_error"].as_str().unwrap();
    assert!(error.contains("answered 500"), "{error}");
    assert!(page.body.contains("answered 500"), "{}", page.body);
    assert!(browser
        .get("/operator/webhooks?status=processed")
        .await
        .body
        .contains("No event has the status processed."));

    // A forged form is refused; the page's form replays it.
    let forged = browser
        .post(
            &format!("/operator/webhooks/{event_id}/replay"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);
    b.stand_in.state.lock().unwrap().verify_fails = false;
    let replayed = browser
        .submit(
            "/operator/webhooks",
            &format!("/operator/webhooks/{event_id}/replay"),
            &[],
        )
        .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    let location = replayed.location.expect("back to the list");
    assert_eq!(location, "/operator/webhooks");
    let list = browser.get(&location).await;
    assert!(list
        .body
        .contains(&format!("The event {event_id} is queued again")));
    // Said once: a reload does not say it again.
    assert!(!browser
        .get(&location)
        .await
        .body
        .contains("is queued again"));
    b.wait_for_cycle("paid").await;
    eventually(
        "the replayed event to show processed",
        Duration::from_secs(10),
        async || {
            let page = browser.get("/operator/webhooks?status=processed").await;
            page.body
                .contains("<span class=\"status processed\">processed</span>")
                .then_some(())
        },
    )
    .await;
    // Audited like the API's replay; a second replay is a 404.
    let (actor,): (Option<String>,) = sqlx::query_as(
        "SELECT actor_user_id FROM audit_log WHERE action = 'admin.webhook_replayed' AND target_id = $1",
    )
    .bind(&event_id)
    .fetch_one(b.app.db.pool())
    .await
    .unwrap();
    assert!(actor.is_some());
    let again = browser
        .submit(
            "/operator/webhooks",
            &format!("/operator/webhooks/{event_id}/replay"),
            &[],
        )
        .await;
    assert_eq!(again.status, 404);
}

async fn an_operator_resolves_a_discrepancy_with_a_note(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("ops@example.com", "Operators").await;
    make_admin(&app, "ops@example.com").await;
    let discrepancy = insert_discrepancy(&app).await;
    let browser = Browser::new(&app);
    browser.sign_in("ops@example.com").await;

    let page = browser.get("/operator/discrepancies").await;
    assert!(page.body.contains("amount mismatch"));
    assert!(page.body.contains("6000 USD") && page.body.contains("5000 USD"));
    let resolved = browser
        .submit(
            "/operator/discrepancies",
            &format!("/operator/discrepancies/{discrepancy}/resolve"),
            &[("note", "Refunded the difference by hand")],
        )
        .await;
    assert_eq!(resolved.status, 303, "{}", resolved.body);
    let location = resolved.location.expect("back to the list");
    assert_eq!(location, "/operator/discrepancies");
    let list = browser.get(&location).await;
    assert!(list.body.contains("is resolved"));
    assert!(!browser.get(&location).await.body.contains("is resolved"));
    assert!(list.body.contains("No unresolved discrepancy"));
    let resolved_list = browser.get("/operator/discrepancies?resolved=true").await;
    assert!(resolved_list.body.contains("amount mismatch"));
    let (details,): (Option<String>,) = sqlx::query_as(
        "SELECT details FROM audit_log WHERE action = 'admin.discrepancy_resolved' AND target_id = $1",
    )
    .bind(&discrepancy)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let details: Value = serde_json::from_str(&details.expect("details")).unwrap();
    assert_eq!(details["note"], "Refunded the difference by hand");
    // Once only, like the API.
    let again = browser
        .submit(
            "/operator/discrepancies",
            &format!("/operator/discrepancies/{discrepancy}/resolve"),
            &[("note", "")],
        )
        .await;
    assert_eq!(again.status, 404);
}

async fn the_audit_log_page_filters_and_refuses_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.register("owner@audit.test", "Audited").await;
    let organization_id = registered["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let owner_id = registered["user"]["id"].as_str().unwrap().to_string();
    let owner = token_of(&registered, "access_token");
    for name in ["first", "second", "third"] {
        let created = app
            .post_as("/api/v1/keys", &owner, &json!({ "name": name }))
            .await;
        assert_eq!(created.status(), 201);
    }
    let member = app.register("member@audit.test", "Elsewhere").await;
    let member_id = member["user"]["id"].as_str().unwrap().to_string();
    app.add_membership(&organization_id, &member_id, "member")
        .await;
    let page_path = format!("/o/{organization_id}/audit");

    // Signed out: the sign-in page.
    let visitor = Browser::new(&app);
    assert_eq!(
        visitor.get(&page_path).await.location.as_deref(),
        Some("/sign-in")
    );

    let browser = Browser::new(&app);
    browser.sign_in("owner@audit.test").await;
    let api = json(app.get_as("/api/v1/audit-log", &owner).await).await["data"].clone();
    let page = browser.get(&page_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for entry in api.as_array().unwrap() {
        let action = entry["action"].as_str().unwrap();
        assert!(
            page.body.contains(&format!("<code>{action}</code>")),
            "{action}"
        );
    }
    assert!(page.body.contains("owner@audit.test"));
    assert!(page.body.contains("href=\"/o/"));

    // Filters: the action, the actor, a time range.
    let keys_only = browser
        .get(&format!("{page_path}?action=api_key.created"))
        .await;
    assert_eq!(
        keys_only
            .body
            .matches("<code>api_key.created</code>")
            .count(),
        3
    );
    assert!(!keys_only.body.contains("<code>auth.register</code>"));
    assert!(keys_only.body.contains("Clear the filters"));
    let by_member = browser.get(&format!("{page_path}?actor={member_id}")).await;
    assert!(by_member.body.contains("No entry matches these filters."));
    let by_owner = browser.get(&format!("{page_path}?actor={owner_id}")).await;
    assert!(by_owner.body.contains("<code>api_key.created</code>"));
    let future = browser.get(&format!("{page_path}?from=2999-01-01")).await;
    assert!(future.body.contains("No entry matches these filters."));
    let today = landlord_core::Timestamp::now().date();
    let range = browser
        .get(&format!(
            "{page_path}?from={today}&to={today}&action=api_key.created"
        ))
        .await;
    assert_eq!(
        range.body.matches("<code>api_key.created</code>").count(),
        3
    );
    let bad = browser.get(&format!("{page_path}?from=yesterday")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"from-error\""));

    // Cursor pages, like the API's (50 a page).
    for i in 0..50 {
        let created = app
            .post_as("/api/v1/keys", &owner, &json!({ "name": format!("k{i}") }))
            .await;
        assert_eq!(created.status(), 201);
    }
    let first = browser
        .get(&format!("{page_path}?action=api_key.created"))
        .await;
    assert_eq!(
        first.body.matches("<code>api_key.created</code>").count(),
        50
    );
    let marker = "?action=api_key.created&amp;cursor=";
    let start = first.body.find(marker).expect("a next page link");
    let end = first.body[start..].find('"').unwrap();
    let next = first.body[start..start + end].replace("&amp;", "&");
    let second = browser.get(&format!("{page_path}{next}")).await;
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body.matches("<code>api_key.created</code>").count(),
        3
    );
    assert!(second.body.contains(">Newest</a>"));

    // A member is refused; another organization is a 404.
    let member_browser = Browser::new(&app);
    member_browser.sign_in("member@audit.test").await;
    let refused = member_browser.get(&page_path).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Not allowed"));
    let other = member["organization"]["id"].as_str().unwrap();
    assert_eq!(browser.get(&format!("/o/{other}/audit")).await.status, 404);
}

async fn an_operator_finds_organizations_and_sets_a_plan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.register("ada@acme.test", "Acme Rockets").await;
    let acme_id = acme["organization"]["id"].as_str().unwrap().to_string();
    let tenant = token_of(&acme, "access_token");
    app.register("bob@globex.test", "Globex").await;
    let ops = token_of(
        &app.register("ops@example.com", "Operators").await,
        "access_token",
    );
    make_admin(&app, "ops@example.com").await;
    let browser = Browser::new(&app);
    browser.sign_in("ops@example.com").await;

    // The API's search and the page's agree: by name, by a member's email,
    // by plan.
    let all = json(app.get_as("/api/v1/admin/organizations", &ops).await).await["data"].clone();
    assert_eq!(all.as_array().unwrap().len(), 3);
    let page = browser.get("/operator/organizations").await;
    for organization in all.as_array().unwrap() {
        let name = organization["name"].as_str().unwrap();
        assert!(
            page.body.contains(&format!("<strong>{name}</strong>")),
            "{name}"
        );
    }
    let by_name = browser.get("/operator/organizations?q=rocket").await;
    assert!(by_name.body.contains("<strong>Acme Rockets</strong>"));
    assert!(!by_name.body.contains("<strong>Globex</strong>"));
    let by_email = browser.get("/operator/organizations?q=BOB%40globex").await;
    assert!(by_email.body.contains("<strong>Globex</strong>"));
    assert!(!by_email.body.contains("<strong>Acme Rockets</strong>"));
    let api_by_email = json(
        app.get_as("/api/v1/admin/organizations?q=bob@globex", &ops)
            .await,
    )
    .await["data"]
        .clone();
    assert_eq!(api_by_email.as_array().unwrap().len(), 1);
    let wildcard = browser.get("/operator/organizations?q=%25").await;
    assert!(wildcard.body.contains("No organization matches."));
    let starters = browser.get("/operator/organizations?plan=starter").await;
    assert!(starters.body.contains("No organization matches."));

    // Set the plan from the page: the same function as the API, audited.
    let set = browser
        .submit(
            "/operator/organizations?q=acme",
            &format!("/operator/organizations/{acme_id}/plan"),
            &[("plan", "starter"), ("q", "acme")],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    let location = set.location.expect("back to the search");
    let after = browser.get(&location).await;
    assert_eq!(location, "/operator/organizations?q=acme");
    assert!(after
        .body
        .contains("Acme Rockets is now on the plan starter."));
    assert!(!browser
        .get(&location)
        .await
        .body
        .contains("is now on the plan"));
    let organization = json(app.get_as("/api/v1/organization", &tenant).await).await;
    assert_eq!(organization["data"]["plan"], "starter", "{organization}");
    let (details,): (Option<String>,) = sqlx::query_as(
        "SELECT details FROM audit_log WHERE action = 'admin.plan_set' AND target_id = $1",
    )
    .bind(&acme_id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    let details: Value = serde_json::from_str(&details.expect("details")).unwrap();
    assert_eq!(details, json!({"from": "free", "to": "starter"}));
    let starters = browser.get("/operator/organizations?plan=starter").await;
    assert!(starters.body.contains("<strong>Acme Rockets</strong>"));

    // A plan not in the catalog: the error on the page; unknown ids 404.
    let wrong = browser
        .submit(
            "/operator/organizations",
            &format!("/operator/organizations/{acme_id}/plan"),
            &[("plan", "platinum")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .body
            .contains("The plan must be a plan of the catalog"),
        "{}",
        wrong.body
    );
    let missing = browser
        .submit(
            "/operator/organizations",
            "/operator/organizations/nope/plan",
            &[("plan", "free")],
        )
        .await;
    assert_eq!(missing.status, 404);

    // The API route: the same rule. (The move to starter dated last
    // month: Acme paid when this month began.)
    sqlx::query("UPDATE plan_changes SET created_at = 1 WHERE organization_id = $1")
        .bind(&acme_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let moved = app
        .post_as(
            &format!("/api/v1/admin/organizations/{acme_id}/plan"),
            &ops,
            &json!({"plan": "free"}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(json(moved).await["data"]["plan"], "free");
    // Paying when the month began, free now: one churned organization, on
    // the API's figures and the page's.
    let figures = json(app.get_as("/api/v1/admin/figures", &ops).await).await["data"].clone();
    assert_eq!(figures["churned_this_month"], 1);
    let page = browser.get("/operator").await;
    assert!(
        page.body.contains(
            "id=\"f-churn\">Churned this month</h2>\n    <p class=\"figure\"><strong>1</strong>"
        ),
        "{}",
        page.body
    );
    let refused = app
        .post_as(
            &format!("/api/v1/admin/organizations/{acme_id}/plan"),
            &tenant,
            &json!({"plan": "starter"}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let unknown = app
        .post_as(
            &format!("/api/v1/admin/organizations/{acme_id}/plan"),
            &ops,
            &json!({"plan": "platinum"}),
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let nobody = app
        .post_as(
            &format!("/api/v1/admin/organizations/{}/plan", uuid::Uuid::now_v7()),
            &ops,
            &json!({"plan": "free"}),
        )
        .await;
    assert_eq!(nobody.status(), 404);
}

async fn an_operator_retries_a_dead_lettered_mail(backend: Backend) {
    // The mail server is down: the verification mail uses up its one
    // attempt and is dead-lettered.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port();
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        c.jobs_max_attempts = 1;
    })
    .await;
    let ops = token_of(
        &app.register("ops@example.com", "Operators").await,
        "access_token",
    );
    let job_id: String = eventually(
        "the verification mail to be dead-lettered",
        Duration::from_secs(15),
        async || {
            sqlx::query_as::<_, (String,)>(
                "SELECT id FROM jobs WHERE kind = 'mail.send' AND status = 'dead'",
            )
            .fetch_optional(app.db.pool())
            .await
            .unwrap()
            .map(|(id,)| id)
        },
    )
    .await;
    // Not an operator yet: the API refuses, the page is a 404.
    let refused = app.get_as("/api/v1/admin/jobs", &ops).await;
    assert_eq!(refused.status(), 403);
    make_admin(&app, "ops@example.com").await;
    let browser = Browser::new(&app);
    browser.sign_in("ops@example.com").await;

    let listed =
        json(app.get_as("/api/v1/admin/jobs?status=dead", &ops).await).await["data"].clone();
    assert_eq!(listed[0]["id"], job_id.as_str());
    assert_eq!(listed[0]["kind"], "mail.send");
    let bad = app.get_as("/api/v1/admin/jobs?status=lost", &ops).await;
    assert_eq!(bad.status(), 422);
    let page = browser.get("/operator/jobs").await;
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains(&format!("/operator/jobs/{job_id}/retry")));
    assert!(page.body.contains(">Mail<br>"));
    let error = listed[0]["last_error"].as_str().expect("an error");
    let fragment: String = error.chars().take(12).collect();
    assert!(
        page.body.contains(
            fragment
                .split(['<', '>', '&', '"', '\'', '/'])
                .next()
                .unwrap()
        ),
        "{error}"
    );

    // The mail server is back: the page's retry sends the mail.
    let smtp = SmtpServer::start_on(port).await;
    let forged = browser
        .post(&format!("/operator/jobs/{job_id}/retry"), &[("csrf", "x")])
        .await;
    assert_eq!(forged.status, 403);
    let retried = browser
        .submit(
            "/operator/jobs",
            &format!("/operator/jobs/{job_id}/retry"),
            &[],
        )
        .await;
    assert_eq!(retried.status, 303, "{}", retried.body);
    let location = retried.location.expect("back to the list");
    assert_eq!(location, "/operator/jobs");
    assert!(browser
        .get(&location)
        .await
        .body
        .contains("is queued again with fresh attempts"));
    assert!(!browser
        .get(&location)
        .await
        .body
        .contains("is queued again"));
    smtp.wait_for_subject("ops@example.com", "Confirm your email")
        .await;
    assert!(browser
        .get("/operator/jobs")
        .await
        .body
        .contains("No dead-lettered job or mail"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'admin.job_retried' AND target_id = $1",
            &[&job_id]
        )
        .await,
        1
    );
    // Once: it is no longer dead.
    let again = app
        .post_as(
            &format!("/api/v1/admin/jobs/{job_id}/retry"),
            &ops,
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 404);
}
