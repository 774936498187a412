//! The console's navigation over HTTP: error pages keep a signed-in
//! person's navigation, the billing page starts from the organization's
//! plan and compares the plans, and the new-organization form shows its
//! refusals at the field and redirects to the new organization.

use reqwest::header::{ACCEPT, COOKIE};

use crate::backend_tests;
use crate::console::Browser;
use crate::support::payments::billed;
use crate::support::{Backend, TestApp};

const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

/// `path` as a browser asks for it (HTML accepted), with `browser`'s
/// cookies: the status and the body.
async fn page(app: &TestApp, browser: &Browser<'_>, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(app.url(path))
        .header(ACCEPT, HTML)
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("page body"))
}

async fn error_pages_keep_a_signed_in_persons_navigation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let org = ada
        .sign_up("ada@nav.test", "Ada's")
        .await
        .trim_start_matches("/o/")
        .to_string();
    let bob = Browser::new(&app);
    let bobs = bob.sign_up("bob@nav.test", "Bob's").await;

    // A path nobody serves (the application's fallback), a page of the
    // person's organization that does not exist, and another
    // organization's page (the console's own 404): each keeps the
    // navigation of Ada's organization, her switcher and account menu.
    for path in [
        "/no/such/page".to_string(),
        format!("/o/{org}/no-such-page"),
        bobs.clone(),
    ] {
        let (status, body) = page(&app, &ada, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("Page not found"), "{path}: {body}");
        assert!(
            body.contains("aria-label=\"Organization\""),
            "{path}: {body}"
        );
        for link in ["", "/keys", "/team", "/settings"] {
            let href = format!("href=\"/o/{org}{link}\"");
            assert!(body.contains(&href), "{path}: {href} in {body}");
        }
        assert!(
            body.contains("Ada&#x27;s") || body.contains("Ada's"),
            "{body}"
        );
        assert!(body.contains("Sign out"), "{path}: {body}");
        assert!(!body.contains("Bob"), "{path}: nothing of Bob's: {body}");
    }

    // A refused form (an expired CSRF token) keeps it too.
    let refused = ada
        .post(
            &format!("/o/{org}/keys"),
            &[("csrf", "forged"), ("name", "x")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("This form has expired"));
    assert!(refused.body.contains("aria-label=\"Organization\""));

    // Signed out: the plain page, no navigation.
    let stranger = Browser::new(&app);
    let (status, body) = page(&app, &stranger, &format!("/o/{org}/no-such-page")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Page not found"));
    assert!(!body.contains("aria-label=\"Organization\""), "{body}");
    assert!(!body.contains("Sign out"), "{body}");
    // An API path keeps its JSON envelope, signed in or not.
    let response = app
        .client
        .get(app.url("/api/v1/no-such-route"))
        .header(ACCEPT, HTML)
        .header(COOKIE, ada.cookie_header())
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 404);
    assert!(response
        .text()
        .await
        .unwrap_or_default()
        .contains("\"NOT_FOUND\""));
}

async fn the_navigation_is_grouped_and_marks_the_current_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("ada@groups.test", "Grouped").await;
    let keys = ada.get(&format!("{overview}/keys")).await;
    assert_eq!(keys.status, 200, "{}", keys.body);
    let body = &keys.body;
    // The groups in order, each with its links in order.
    let mut at = 0;
    for expected in [
        "id=\"nav-organization\">Organization<",
        ">Overview<",
        ">Team<",
        ">Settings<",
        ">Audit log<",
        "id=\"nav-developers\">Developers<",
        ">API keys<",
        ">Webhooks<",
        ">Events<",
        "href=\"/docs\">API docs<",
        "id=\"nav-billing\">Billing<",
        "id=\"nav-inbox\">Inbox<",
        "id=\"nav-marketplace\">Marketplace<",
        ">Store<",
    ] {
        let found = body[at..]
            .find(expected)
            .unwrap_or_else(|| panic!("{expected} after byte {at}: {body}"));
        at += found + expected.len();
    }
    let current = format!("href=\"{overview}/keys\" aria-current=\"page\">API keys<");
    assert!(body.contains(&current), "{body}");
    assert_eq!(body.matches("aria-current=\"page\"").count(), 1, "{body}");
    // The switcher creates an organization; the account menu holds the
    // account, the sessions and signing out (no operator console for a
    // customer).
    assert!(body.contains("href=\"/organizations/new\""));
    assert!(body.contains("href=\"/account/sessions\""));
    assert!(!body.contains("Operator console"), "{body}");
}

async fn billing_starts_from_the_current_plan_and_compares_them(backend: Backend) {
    let b = billed(backend, 1).await;
    let owner = Browser::new(&b.app);
    let seen = owner
        .sign_in("payer@example.com", crate::support::accounts::PASSWORD)
        .await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    let billing = format!("/o/{}/billing", b.organization_id);
    let page = owner.get(&billing).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    // The organization is on starter: the list starts there, not at the
    // alphabetically first plan.
    assert!(
        body.contains("<option value=\"starter\" selected>"),
        "{body}"
    );
    assert_eq!(body.matches(" selected>").count(), 1, "{body}");
    assert!(body.contains("(your plan)"), "{body}");
    // The comparison: every plan with its price and limits, cheapest
    // first, the organization's marked.
    assert!(body.contains("Compare the plans"), "{body}");
    let table = &body[body.find("table class=\"list plans\"").expect("the table")..];
    let table = &table[..table.find("</table>").expect("its end")];
    let rows: Vec<&str> = table.split("<tr").skip(2).collect();
    assert!(rows.len() >= 3, "{table}");
    let (free, starter, pro) = (
        table.find(">free").expect("free"),
        table.find(">starter").expect("starter"),
        table.find(">pro").expect("pro"),
    );
    assert!(free < starter && starter < pro, "cheapest first: {table}");
    for expected in [
        "10.00 USD a month",
        "50.00 USD a month",
        "10000 a month",
        "unlimited",
        "60 a minute",
    ] {
        assert!(table.contains(expected), "{expected}: {table}");
    }
    let current = rows
        .iter()
        .find(|row| row.contains(">starter"))
        .expect("starter's row");
    assert!(current.contains("class=\"current\""), "{current}");
    assert!(current.contains("Your plan"), "{current}");
    // Reviewing the plan it is on says so, with the navigation kept.
    let same = owner.get(&format!("{billing}/change?plan=starter")).await;
    assert_eq!(same.status, 422, "{}", same.body);
    assert!(same.body.contains("already"), "{}", same.body);
    assert!(
        same.body.contains("aria-label=\"Organization\""),
        "{}",
        same.body
    );
    // The confirmation's buttons stand apart.
    let change = owner.get(&format!("{billing}/change?plan=pro")).await;
    assert_eq!(change.status, 200, "{}", change.body);
    assert!(
        change.body.contains(
            "<div class=\"row-actions\">\n    <button type=\"submit\">Upgrade now</button>"
        ),
        "{}",
        change.body
    );
}

async fn a_new_organization_form_refuses_at_the_field_and_lands_on_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let first = ada.sign_up("ada@orgs.test", "First").await;
    let form = ada.get("/organizations/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form
        .body
        .contains("<label for=\"name\">Organization name</label>"));
    let csrf = form.csrf();

    // Refusals next to the field, what was typed kept.
    let empty = ada
        .post("/organizations", &[("csrf", &csrf), ("name", "   ")])
        .await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert_eq!(empty.field_error("name").as_deref(), Some("Is required."));
    let long = "x".repeat(101);
    let too_long = ada
        .post("/organizations", &[("csrf", &csrf), ("name", &long)])
        .await;
    assert_eq!(too_long.status, 422, "{}", too_long.body);
    let reason = too_long.field_error("name").expect("an error at the name");
    assert!(reason.contains("100"), "{reason}");
    assert_eq!(too_long.input_value("name").as_deref(), Some(long.as_str()));
    // Without the page's token: refused, nothing created.
    let forged = ada
        .post("/organizations", &[("csrf", "forged"), ("name", "Forged")])
        .await;
    assert_eq!(forged.status, 403);
    let count = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM organizations")
            .fetch_one(app.db.pool())
            .await
            .expect("count");
        n
    };
    assert_eq!(count().await, 1);

    // Created: redirected (Post/Redirect/Get) to its overview, owned by
    // Ada, listed in the switcher beside the first; the root leads there.
    let created = ada
        .post("/organizations", &[("csrf", &csrf), ("name", "Second")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let second = created.location.expect("the new organization's overview");
    assert!(second.starts_with("/o/") && second != first, "{second}");
    assert_eq!(count().await, 2);
    let overview = ada.get(&second).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("Second"));
    assert!(overview.body.contains(&format!("href=\"{first}\"")));
    assert!(overview
        .body
        .contains(&format!("href=\"{second}\" aria-current=\"true\"")));
    let team = ada.get(&format!("{second}/team")).await;
    assert!(team.body.contains("ada@orgs.test"), "{}", team.body);
    assert!(team.body.contains("owner"), "{}", team.body);
    let home = ada.get("/").await;
    assert_eq!(home.location.as_deref(), Some(second.as_str()));
    // The first is still Ada's.
    assert_eq!(ada.get(&first).await.status, 200);
    // Signed out: the sign-in page.
    let away = Browser::new(&app).get("/organizations/new").await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location.as_deref(), Some("/sign-in"));
}

backend_tests!(
    error_pages_keep_a_signed_in_persons_navigation,
    the_navigation_is_grouped_and_marks_the_current_page,
    billing_starts_from_the_current_plan_and_compares_them,
    a_new_organization_form_refuses_at_the_field_and_lands_on_it,
);
