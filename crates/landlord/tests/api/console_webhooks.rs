//! The console's webhook pages (`/o/{organization_id}/webhooks…`): over
//! HTTP on both backends — creating an endpoint on the page (its secret
//! shown once), errors next to their fields, the permission matrix
//! (members not allowed, admins without the secret), another
//! organization's endpoint answering 404, CSRF on every form, a test
//! message whose attempt shows in the log, resend and recover — and in a
//! real browser (SQLite), an owner's journey against a receiver the test
//! starts, with screenshots of each page.

use crate::backend_tests;
use crate::console::{owner_and_member, Browser, Seen};
use crate::support::eventually::eventually;
use crate::support::receiver::Receiver;
use crate::support::{Backend, TestApp};

backend_tests!(
    an_endpoint_created_on_the_page_shows_its_secret_once,
    bad_input_is_said_next_to_its_field,
    members_are_not_allowed_and_the_nav_follows_the_role,
    another_organizations_endpoint_answers_404,
    posts_without_the_csrf_token_are_refused,
    admins_manage_endpoints_but_only_owners_see_the_secret,
    a_test_message_shows_its_attempt_in_the_log,
);

/// What the receiver answers to every message.
const RECEIVER_ANSWER: &str = "received by the receiver of the console test";
/// Where the receiver is given as an endpoint.
const HOOK: &str = "/hooks/landlord";

// ---- helpers -------------------------------------------------------------------------

/// Ada owns Acme; Bob (his own organization too) is in Acme as `role`.
async fn acme<'a>(app: &'a TestApp, role: &str) -> (Browser<'a>, Browser<'a>, String) {
    let (ada, bob, org, _) = owner_and_member(app, "hooks.test", "Acme", role).await;
    (ada, bob, org)
}

/// `text` as the pages' templates escape it.
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// The `value` of the readonly input `#id` (a secret on its page).
fn secret_in(page: &Seen, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" class=\"secret\" type=\"text\" value=\"");
    let start = page.body.find(&marker)? + marker.len();
    let end = page.body[start..].find('"')?;
    Some(unescape(&page.body[start..start + end]))
}

/// The text `html` escaped.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

/// Creates an endpoint on the list page: the form's answer redirects to
/// the endpoint's page (no secret in the POST's own answer); returns that
/// page, which shows the secret once, and the endpoint's id.
async fn create(browser: &Browser<'_>, org: &str, fields: &[(&str, &str)]) -> (Seen, String) {
    let list = format!("/o/{org}/webhooks");
    let created = browser.submit(&list, &list, fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert!(!created.body.contains("whsec_"));
    let location = created.location.expect("to the endpoint's page");
    let id = location
        .strip_prefix(&format!("{list}/"))
        .expect("an endpoint's page")
        .to_string();
    let page = browser.get(&location).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (page, id)
}

/// Posts `action` (a form with only its token) and follows its redirect to
/// `back`, the page that shows what was done once.
async fn post_and_follow(browser: &Browser<'_>, action: &str, csrf: &str, back: &str) -> Seen {
    let answer = browser.post(action, &[("csrf", csrf)]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(
        !answer.body.contains("whsec_"),
        "no secret in the POST's answer"
    );
    assert_eq!(answer.location.as_deref(), Some(back));
    browser.get(back).await
}

async fn endpoint_count(app: &TestApp, org: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1",
        &[org],
    )
    .await
}

async fn sealed_secret(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .fetch_one(app.db.pool())
        .await
        .expect("the endpoint's sealed secret")
}

async fn attempt_count(app: &TestApp, id: &str) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM webhook_attempts WHERE endpoint_id = $1",
        &[id],
    )
    .await
}

// ---- the tests -----------------------------------------------------------------------

async fn an_endpoint_created_on_the_page_shows_its_secret_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org) = acme(&app, "member").await;
    let list = format!("/o/{org}/webhooks");

    let empty = ada.get(&list).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No endpoint yet"));
    assert!(empty.body.contains("Add the endpoint"));
    // The catalog's types, but not the test type (sent, never subscribed).
    assert!(empty.body.contains("value=\"invoice.paid\""));
    assert!(empty.body.contains("value=\"member.added\""));
    assert!(!empty.body.contains("value=\"webhook.test\""));

    let (created, id) = create(
        &ada,
        &org,
        &[
            ("url", "http://127.0.0.1:9/hooks/acme"),
            ("description", "Billing sync"),
            ("event_types", "invoice.paid"),
            ("event_types", "member.added"),
            ("enabled", "true"),
        ],
    )
    .await;
    let secret = secret_in(&created, "secret").expect("the secret on the page");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(created.body.contains("it is shown this once"));
    assert!(created.body.contains("data-copy=\"secret\""));
    assert!(created.body.contains("/static/copy.js"));

    // Listed with its types, the secret nowhere.
    let listed = ada.get(&list).await;
    assert_eq!(listed.status, 200);
    assert!(listed.body.contains(&html("http://127.0.0.1:9/hooks/acme")));
    assert!(listed.body.contains("Billing sync"));
    assert!(listed.body.contains("<code>invoice.paid</code>"));
    assert!(listed.body.contains("<code>member.added</code>"));
    assert!(listed.body.contains("status enabled"));
    assert!(
        !listed.body.contains(&html(&secret)),
        "the secret is shown once"
    );
    let page = ada.get(&format!("{list}/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&html("http://127.0.0.1:9/hooks/acme")));
    assert!(page.body.contains("No attempt yet"));
    assert!(!page.body.contains(&html(&secret)));
    assert!(!page.body.contains("whsec_"));
    // Stored as the API shows it.
    let types: String =
        sqlx::query_scalar("SELECT event_types FROM webhook_endpoints WHERE id = $1")
            .bind(&id)
            .fetch_one(app.db.pool())
            .await
            .expect("the endpoint");
    assert!(types.contains("invoice.paid") && types.contains("member.added"));
    let audited = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE organization_id = $1 AND action = 'webhook_endpoint.created'",
            &[&org],
        )
        .await;
    assert_eq!(audited, 1);

    // No type ticked, not enabled: every event, disabled.
    let (_, quiet) = create(&ada, &org, &[("url", "http://127.0.0.1:9/hooks/other")]).await;
    let listed = ada.get(&list).await;
    assert!(listed.body.contains("All events"));
    assert!(listed.body.contains("status disabled"));
    let page = ada.get(&format!("{list}/{quiet}")).await;
    assert!(
        page.body.contains("This endpoint is disabled."),
        "{}",
        page.body
    );

    // Edited on its page: enabled, one type; saved says so.
    let saved = ada
        .submit(
            &format!("{list}/{quiet}"),
            &format!("{list}/{quiet}"),
            &[
                ("url", "http://127.0.0.1:9/hooks/renamed"),
                ("description", "Renamed"),
                ("event_types", "api_key.created"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = ada.get(saved.location.as_deref().expect("back")).await;
    assert!(page.body.contains("Endpoint saved."));
    assert!(page
        .body
        .contains(&html("http://127.0.0.1:9/hooks/renamed")));
    assert!(page.body.contains("<h1>Renamed</h1>"));
    assert!(page.body.contains("value=\"api_key.created\" checked"));

    // Deleted after a confirmation.
    let confirm = ada.get(&format!("{list}/{quiet}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete the endpoint"));
    let deleted = ada
        .post(
            &format!("{list}/{quiet}/delete"),
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let after = ada
        .get(deleted.location.as_deref().expect("the list"))
        .await;
    assert!(after.body.contains("Endpoint deleted"));
    assert!(!after.body.contains(&html("hooks/renamed")));
    assert_eq!(endpoint_count(&app, &org).await, 1);
    assert_eq!(ada.get(&format!("{list}/{quiet}")).await.status, 404);
}

async fn bad_input_is_said_next_to_its_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org) = acme(&app, "member").await;
    let list = format!("/o/{org}/webhooks");

    let bad = ada
        .submit(
            &list,
            &list,
            &[
                ("url", "ftp://hooks.example.com/landlord"),
                ("description", "Kept as typed"),
                ("event_types", "invoice.paid"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let error = bad.field_error("url").expect("the error at the URL");
    assert!(!error.is_empty(), "{}", bad.body);
    assert!(bad.body.contains("aria-describedby=\"url-error\""));
    assert_eq!(
        bad.input_value("url").as_deref(),
        Some(html("ftp://hooks.example.com/landlord").as_str())
    );
    assert_eq!(
        bad.input_value("description").as_deref(),
        Some("Kept as typed")
    );
    assert!(bad.body.contains("value=\"invoice.paid\" checked"));
    let empty = ada.submit(&list, &list, &[("url", "  ")]).await;
    assert_eq!(empty.status, 422);
    assert_eq!(empty.field_error("url").as_deref(), Some("Is required."));
    // A type the form never offers (a forged form): at the types.
    let forged = ada
        .submit(
            &list,
            &list,
            &[
                ("url", "http://127.0.0.1:9/x"),
                ("event_types", "webhook.test"),
            ],
        )
        .await;
    assert_eq!(forged.status, 422);
    assert!(
        forged.field_error("event_types").is_some(),
        "{}",
        forged.body
    );
    assert_eq!(endpoint_count(&app, &org).await, 0);

    // The edit form: the error at its field, nothing changed.
    let (_, id) = create(
        &ada,
        &org,
        &[("url", "http://127.0.0.1:9/ok"), ("enabled", "true")],
    )
    .await;
    let page = format!("{list}/{id}");
    let long = "x".repeat(501);
    let bad = ada
        .submit(
            &page,
            &page,
            &[
                ("url", "not a url"),
                ("description", &long),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("url").is_some(), "{}", bad.body);
    assert!(bad.field_error("description").is_some());
    assert_eq!(bad.input_value("url").as_deref(), Some("not a url"));
    let url: String = sqlx::query_scalar("SELECT url FROM webhook_endpoints WHERE id = $1")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .expect("the endpoint");
    assert_eq!(url, "http://127.0.0.1:9/ok");

    // Recover: a time that is not one, at the field.
    let bad = ada
        .submit(&page, &format!("{page}/recover"), &[("since", "yesterday")])
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.field_error("since").is_some(), "{}", bad.body);
    assert_eq!(bad.input_value("since").as_deref(), Some("yesterday"));
    let none = ada
        .submit(&page, &format!("{page}/recover"), &[("since", "")])
        .await;
    assert_eq!(none.field_error("since").as_deref(), Some("Is required."));
    // A datetime-local value, read as UTC: nothing failed, nothing to send.
    let fine = ada
        .submit(
            &page,
            &format!("{page}/recover"),
            &[("since", "2026-01-01T00:00")],
        )
        .await;
    assert_eq!(fine.status, 303, "{}", fine.body);
    let shown = ada.get(fine.location.as_deref().expect("back")).await;
    assert!(shown.body.contains("No failed message since that time"));
}

async fn members_are_not_allowed_and_the_nav_follows_the_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org) = acme(&app, "member").await;
    let list = format!("/o/{org}/webhooks");
    let (_, id) = create(
        &ada,
        &org,
        &[("url", "http://127.0.0.1:9/x"), ("enabled", "true")],
    )
    .await;

    // The owner's navigation has the link; the member's has not.
    let nav_link = format!("href=\"/o/{org}/webhooks\"");
    assert!(ada.get(&format!("/o/{org}")).await.body.contains(&nav_link));
    let overview = bob.get(&format!("/o/{org}")).await;
    assert_eq!(overview.status, 200);
    assert!(!overview.body.contains(&nav_link));
    assert!(!overview.body.contains(">Webhooks</a>"));

    for path in [
        list.clone(),
        format!("{list}/{id}"),
        format!("{list}/{id}/delete"),
        format!("{list}/{id}/rotate-secret"),
    ] {
        let seen = bob.get(&path).await;
        assert_eq!(seen.status, 403, "{path}: {}", seen.body);
        assert!(seen.body.contains("Not allowed"), "{path}");
        assert!(!seen.body.contains("127.0.0.1:9"), "{path}");
    }
    let csrf = overview.csrf();
    for (path, form) in [
        (list.clone(), vec![("url", "http://127.0.0.1:9/bob")]),
        (
            format!("{list}/{id}"),
            vec![("url", "http://127.0.0.1:9/bob")],
        ),
        (format!("{list}/{id}/test"), vec![]),
        (format!("{list}/{id}/secret"), vec![]),
        (format!("{list}/{id}/rotate-secret"), vec![]),
        (format!("{list}/{id}/delete"), vec![]),
        (
            format!("{list}/{id}/recover"),
            vec![("since", "2026-01-01T00:00")],
        ),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let refused = bob.post(&path, &fields).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.body);
        assert!(refused.body.contains("Not allowed"), "{path}");
        assert!(!refused.body.contains("whsec_"), "{path}");
    }
    assert_eq!(endpoint_count(&app, &org).await, 1);
    assert_eq!(attempt_count(&app, &id).await, 0);
    let url: String = sqlx::query_scalar("SELECT url FROM webhook_endpoints WHERE id = $1")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .expect("the endpoint");
    assert_eq!(url, "http://127.0.0.1:9/x");
}

async fn another_organizations_endpoint_answers_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org) = acme(&app, "member").await;
    let (_, id) = create(
        &ada,
        &org,
        &[("url", "http://127.0.0.1:9/acme"), ("enabled", "true")],
    )
    .await;
    let before = sealed_secret(&app, &id).await;
    let eve = Browser::new(&app);
    let eve_org = eve.sign_up("eve@hooks.test", "Evil").await;

    // Acme's pages: not hers.
    for path in [
        format!("/o/{org}/webhooks"),
        format!("/o/{org}/webhooks/{id}"),
    ] {
        let seen = eve.get(&path).await;
        assert_eq!(seen.status, 404, "{path}");
        assert!(!seen.body.contains(&html("127.0.0.1:9/acme")), "{path}");
    }
    // Acme's endpoint through her own organization, where she is owner.
    let hers = format!("{eve_org}/webhooks/{id}");
    for path in [
        hers.clone(),
        format!("{hers}/delete"),
        format!("{hers}/rotate-secret"),
    ] {
        let seen = eve.get(&path).await;
        assert_eq!(seen.status, 404, "{path}: {}", seen.body);
        assert!(seen.body.contains("Page not found"));
        assert!(!seen.body.contains(&html("127.0.0.1:9/acme")), "{path}");
    }
    let csrf = eve.get(&format!("{eve_org}/webhooks")).await.csrf();
    let message = "01900000-0000-7000-8000-000000000000";
    for (path, form) in [
        (hers.clone(), vec![("url", "http://127.0.0.1:9/eve")]),
        (format!("{hers}/test"), vec![]),
        (format!("{hers}/secret"), vec![]),
        (format!("{hers}/rotate-secret"), vec![]),
        (format!("{hers}/delete"), vec![]),
        (
            format!("{hers}/recover"),
            vec![("since", "2026-01-01T00:00")],
        ),
        (format!("{hers}/messages/{message}/resend"), vec![]),
        (format!("/o/{org}/webhooks/{id}/delete"), vec![]),
    ] {
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend(form);
        let refused = eve.post(&path, &fields).await;
        assert_eq!(refused.status, 404, "{path}: {}", refused.body);
        assert!(!refused.body.contains("whsec_"), "{path}");
    }
    // A malformed id is a missing one.
    assert_eq!(
        eve.get(&format!("{eve_org}/webhooks/not-an-id"))
            .await
            .status,
        404
    );
    assert_eq!(endpoint_count(&app, &org).await, 1);
    assert_eq!(sealed_secret(&app, &id).await, before);
    assert_eq!(attempt_count(&app, &id).await, 0);
}

async fn posts_without_the_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org) = acme(&app, "member").await;
    let list = format!("/o/{org}/webhooks");
    let (_, id) = create(
        &ada,
        &org,
        &[("url", "http://127.0.0.1:9/x"), ("enabled", "true")],
    )
    .await;
    let before = sealed_secret(&app, &id).await;
    for (path, form) in [
        (list.clone(), vec![("url", "http://127.0.0.1:9/forged")]),
        (
            format!("{list}/{id}"),
            vec![("url", "http://127.0.0.1:9/forged")],
        ),
        (format!("{list}/{id}/test"), vec![]),
        (format!("{list}/{id}/secret"), vec![]),
        (format!("{list}/{id}/rotate-secret"), vec![]),
        (format!("{list}/{id}/delete"), vec![]),
        (
            format!("{list}/{id}/recover"),
            vec![("since", "2026-01-01T00:00")],
        ),
    ] {
        let forged = ada.post(&path, &form).await;
        assert_eq!(forged.status, 403, "{path}: {}", forged.body);
        assert!(forged.body.contains("This form has expired"), "{path}");
        assert!(!forged.body.contains("whsec_"), "{path}");
        // Nor does a token that is not this session's.
        let wrong = "0".repeat(64);
        let mut fields = vec![("csrf", wrong.as_str())];
        fields.extend(form.iter().copied());
        assert_eq!(ada.post(&path, &fields).await.status, 403, "{path}");
    }
    assert_eq!(endpoint_count(&app, &org).await, 1);
    assert_eq!(sealed_secret(&app, &id).await, before);
    assert_eq!(attempt_count(&app, &id).await, 0);
    let secret_views = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE organization_id = $1 AND action = 'webhook_endpoint.secret_viewed'",
            &[&org],
        )
        .await;
    assert_eq!(secret_views, 0);
}

async fn admins_manage_endpoints_but_only_owners_see_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org) = acme(&app, "admin").await;
    let list = format!("/o/{org}/webhooks");

    // An admin has the page and creates an endpoint (its secret shown
    // then, as the API answers it, with the word that only owners see it
    // later).
    let nav_link = format!("href=\"/o/{org}/webhooks\"");
    assert!(bob.get(&format!("/o/{org}")).await.body.contains(&nav_link));
    let (created, id) = create(
        &bob,
        &org,
        &[("url", "http://127.0.0.1:9/admin"), ("enabled", "true")],
    )
    .await;
    let secret = secret_in(&created, "secret").expect("the secret at creation");
    assert!(created.body.contains("Afterwards only owners can see it"));
    let page = bob.get(&format!("{list}/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Send test event"));
    assert!(!page.body.contains("Reveal secret"));
    assert!(!page.body.contains("Rotate secret"));
    assert!(page
        .body
        .contains("Only owners see or rotate the signing secret"));
    let before = sealed_secret(&app, &id).await;
    let csrf = page.csrf();
    let refused = bob
        .post(&format!("{list}/{id}/secret"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Not allowed"));
    assert!(!refused.body.contains(&html(&secret)));
    assert_eq!(
        bob.get(&format!("{list}/{id}/rotate-secret")).await.status,
        403
    );
    let refused = bob
        .post(&format!("{list}/{id}/rotate-secret"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 403);
    assert!(!refused.body.contains("whsec_"));
    assert_eq!(sealed_secret(&app, &id).await, before);

    // The owner reveals it (audited) and rotates it after a confirmation:
    // the new secret, and the old one still signing for 24 hours.
    let page = ada.get(&format!("{list}/{id}")).await;
    assert!(page.body.contains("Reveal secret") && page.body.contains("Rotate secret"));
    let endpoint = format!("{list}/{id}");
    let revealed =
        post_and_follow(&ada, &format!("{endpoint}/secret"), &page.csrf(), &endpoint).await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert_eq!(
        secret_in(&revealed, "secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(secret_in(&revealed, "previous_secret").is_none());
    let viewed = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE organization_id = $1 AND action = 'webhook_endpoint.secret_viewed'",
            &[&org],
        )
        .await;
    assert_eq!(viewed, 1);
    let confirm = ada.get(&format!("{list}/{id}/rotate-secret")).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("keeps working for 24 hours"));
    assert!(!confirm.body.contains("whsec_"));
    let rotated = post_and_follow(
        &ada,
        &format!("{endpoint}/rotate-secret"),
        &confirm.csrf(),
        &endpoint,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = secret_in(&rotated, "secret").expect("the new secret");
    assert!(new.starts_with("whsec_") && new != secret);
    assert_eq!(
        secret_in(&rotated, "previous_secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(rotated.body.contains("keeps signing beside it until"));
    assert_ne!(sealed_secret(&app, &id).await, before);
    // The admin still cannot see either.
    let page = bob.get(&format!("{list}/{id}")).await;
    assert!(!page.body.contains(&html(&new)) && !page.body.contains(&html(&secret)));
}

async fn a_test_message_shows_its_attempt_in_the_log(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(RECEIVER_ANSWER).await;
    let (ada, _bob, org) = acme(&app, "member").await;
    let (created, id) = create(
        &ada,
        &org,
        &[("url", &receiver.url(HOOK)), ("enabled", "true")],
    )
    .await;
    let secret = secret_in(&created, "secret").expect("the secret");
    let page_path = format!("/o/{org}/webhooks/{id}");

    let page = ada.get(&page_path).await;
    let sent = ada
        .post(&format!("{page_path}/test"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let after = ada.get(sent.location.as_deref().expect("back")).await;
    assert!(after.body.contains("Test message queued"), "{}", after.body);

    // Delivered, signed with the secret the page showed.
    let messages = receiver.wait_for(HOOK, 1).await;
    assert!(messages[0].verifies(&secret));
    let body: serde_json::Value = serde_json::from_slice(&messages[0].body).expect("JSON");
    assert_eq!(body["type"], "webhook.test", "{body}");
    let message_id = messages[0]
        .headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .expect("a webhook-id")
        .to_string();

    // The attempt on the page: type, id, status, the answer's excerpt.
    let logged = eventually(
        "the attempt on the endpoint's page",
        std::time::Duration::from_secs(30),
        async || {
            let page = ada.get(&page_path).await;
            page.body.contains("class=\"code ok\">200<").then_some(page)
        },
    )
    .await;
    assert!(logged.body.contains("<code>webhook.test</code>"));
    assert!(logged.body.contains(&message_id));
    assert!(logged.body.contains("#1 · test"));
    assert!(logged.body.contains(RECEIVER_ANSWER));
    assert!(logged.body.contains(" ms</td>"));
    assert!(!logged.body.contains("No attempt yet"));
    // The attempt's time reads relative, the exact time on hover; the
    // endpoint's id has a copy button.
    assert!(
        logged.body.contains(" UTC\">just now</time>"),
        "{}",
        logged.body
    );
    assert!(logged
        .body
        .contains(&format!("<code id=\"endpoint-id\">{id}</code>")));
    assert!(logged.body.contains("data-copy=\"endpoint-id\""));
    let resend = format!("{page_path}/messages/{message_id}/resend");
    assert!(logged.body.contains(&format!("action=\"{resend}\"")));

    // Resent from the log: a second attempt under the same webhook-id.
    let resent = ada.post(&resend, &[("csrf", &logged.csrf())]).await;
    assert_eq!(resent.status, 303, "{}", resent.body);
    let shown = ada.get(resent.location.as_deref().expect("back")).await;
    assert!(shown.body.contains("Message queued again"));
    let messages = receiver.wait_for(HOOK, 2).await;
    assert_eq!(
        messages[1]
            .headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok()),
        Some(message_id.as_str())
    );
    let logged = eventually(
        "the resend's attempt on the page",
        std::time::Duration::from_secs(30),
        async || {
            let page = ada.get(&page_path).await;
            page.body.contains("#2 · resend").then_some(page)
        },
    )
    .await;
    // Newest first.
    let newest = logged.body.find("#2 · resend").expect("the resend");
    let oldest = logged.body.find("#1 · test").expect("the test");
    assert!(newest < oldest);
    assert_eq!(attempt_count(&app, &id).await, 2);

    // Disabled: the page says so and the test is refused, in words.
    let disabled = ada
        .submit(&page_path, &page_path, &[("url", &receiver.url(HOOK))])
        .await;
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    let page = ada.get(&page_path).await;
    assert!(page.body.contains("This endpoint is disabled."));
    assert!(!page.body.contains(&format!("action=\"{resend}\"")));
    let refused = ada
        .post(&format!("{page_path}/test"), &[("csrf", &page.csrf())])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("enable it first"), "{}", refused.body);
    assert_eq!(receiver.all().len(), 2);
}

// ---- in a real browser ---------------------------------------------------------------

const BROWSER_TEST: &str =
    "console_webhooks::browser::an_owner_creates_an_endpoint_tests_it_and_rotates_its_secret";

mod browser {
    use std::time::{Duration, Instant};

    use super::{Receiver, BROWSER_TEST, HOOK, RECEIVER_ANSWER};
    use crate::support::accounts::PASSWORD;
    use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
    use crate::support::{Backend, TestApp};

    /// Reloads the page until the attempt log has `rows` rows.
    async fn reload_until_rows(browser: &Browser, rows: u64) {
        let count = "return document.querySelectorAll('table.attempts tbody tr').length;";
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let shown = browser.script(count, vec![]).await.as_u64().unwrap_or(0);
            if shown >= rows {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gave up after {PAGE_TIMEOUT:?} reloading for {rows} attempts; {shown} shown"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            browser.reload().await;
        }
    }

    /// Scrolls the element `#id` to the top of the window.
    async fn scroll_to(browser: &Browser, id: &str) {
        browser
            .script(
                "document.getElementById(arguments[0]).scrollIntoView();",
                vec![id.into()],
            )
            .await;
    }

    async fn field_value(browser: &Browser, id: &str) -> String {
        let value = browser
            .script(
                "return document.getElementById(arguments[0]).value;",
                vec![id.into()],
            )
            .await;
        value.as_str().expect("the field's value").to_owned()
    }

    /// Sign-up, the empty list, a bad URL, the endpoint created (its
    /// secret once), the list, a test message and its attempt (200 and the
    /// receiver's answer), the secret rotated after a confirmation, the
    /// delete confirmation; light and dark, the list and the endpoint
    /// also 375 px wide.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_owner_creates_an_endpoint_tests_it_and_rotates_its_secret() {
        let Some(browser) = Browser::start(BROWSER_TEST).await else {
            return;
        };
        let app = TestApp::spawn(Backend::Sqlite).await;
        let receiver = Receiver::start(RECEIVER_ANSWER).await;

        browser.goto(&app, "/sign-up").await;
        browser.fill("Organization name", "Acme Hooks").await;
        browser.fill("Your name", "Ada").await;
        browser.fill("Email", "ada@hooks-browser.test").await;
        browser.fill("Password", PASSWORD).await;
        browser.click_button("Sign up").await;
        browser.wait_for_text("Requests this month").await;
        let overview = browser.current_path().await;
        let list = format!("{overview}/webhooks");

        // The nav link, next to Events.
        browser.click_link("Webhooks").await;
        browser.wait_for_path(&list).await;
        browser.wait_for_text("No endpoint yet").await;
        browser.screenshot_themes("webhooks-empty").await;

        // A URL that is not one: the error at the field.
        browser.fill("URL", "hooks.example.com").await;
        browser.click_button("Add the endpoint").await;
        browser.wait_for_text("Add an endpoint").await;
        let error = browser.text_of("#url-error").await;
        assert!(!error.is_empty());
        browser.screenshot_themes("webhooks-bad-url").await;

        // Created: the secret this once.
        browser.fill("URL", &receiver.url(HOOK)).await;
        browser.fill("Description (optional)", "Billing sync").await;
        browser.check("invoice.paid", true).await;
        browser.check("invoice.overdue", true).await;
        browser.check("payment.failed", true).await;
        browser.click_button("Add the endpoint").await;
        browser.wait_for_text("The endpoint's signing secret").await;
        let secret = field_value(&browser, "secret").await;
        assert!(secret.starts_with("whsec_"), "{secret}");
        browser.screenshot_themes("webhook-created").await;
        // Redirected to the endpoint's page: reloaded, no secret and no
        // second endpoint.
        let endpoint = browser.current_path().await;
        assert!(endpoint.starts_with(&format!("{list}/")), "{endpoint}");
        browser.reload().await;
        browser.wait_for_text("No attempt yet").await;
        let html = browser.client().source().await.expect("the page source");
        assert!(!html.contains(&secret), "the secret is shown once");

        // The list: the endpoint, its types, no secret (also after a reload).
        browser.goto(&app, &list).await;
        browser.wait_for_text("Billing sync").await;
        browser.reload().await;
        browser.wait_for_text("invoice.overdue").await;
        let html = browser.client().source().await.expect("the page source");
        assert!(!html.contains(&secret), "nor after a reload");
        browser.screenshot_themes("webhooks").await;
        browser.set_viewport(Viewport::Phone).await;
        browser.screenshot_themes("webhooks-phone").await;
        browser.set_viewport(Viewport::Desktop).await;

        // A test message: delivered, signed, its attempt in the log.
        browser.goto(&app, &endpoint).await;
        browser.wait_for_text("No attempt yet").await;
        browser.click_button("Send test event").await;
        browser.wait_for_text("Test message queued").await;
        let received = receiver.wait_for(HOOK, 1).await;
        assert!(received[0].verifies(&secret));
        browser.reload_until(RECEIVER_ANSWER).await;
        let row = browser.text_of("table.attempts tbody tr").await;
        assert!(row.contains("webhook.test"), "{row}");
        assert!(row.contains("200"), "{row}");
        assert!(row.contains("#1 · test"), "{row}");
        assert!(row.contains(" ms"), "{row}");
        assert!(row.contains(RECEIVER_ANSWER), "{row}");
        browser.screenshot_themes("webhook-attempt").await;
        scroll_to(&browser, "recover-heading").await;
        browser.screenshot_themes("webhook-forms").await;
        browser.set_viewport(Viewport::Phone).await;
        scroll_to(&browser, "main").await;
        browser.screenshot_themes("webhook-phone").await;
        scroll_to(&browser, "attempts-heading").await;
        browser.screenshot_themes("webhook-attempts-phone").await;
        browser.set_viewport(Viewport::Desktop).await;

        // Rotated after a confirmation: the new secret and the old one,
        // which keeps signing beside it.
        browser.click_link("Rotate secret").await;
        browser.wait_for_text("Rotate the signing secret?").await;
        browser.wait_for_text("keeps working for 24 hours").await;
        browser.screenshot_themes("webhook-rotate-confirm").await;
        browser.click_button("Rotate the secret").await;
        browser.wait_for_text("New signing secret").await;
        let new = field_value(&browser, "secret").await;
        let previous = field_value(&browser, "previous_secret").await;
        assert!(new.starts_with("whsec_") && new != secret);
        assert_eq!(previous, secret);
        browser.screenshot_themes("webhook-rotated").await;
        browser.reload().await;
        browser.wait_for_text("Send test event").await;
        let html = browser.client().source().await.expect("the page source");
        assert!(!html.contains(&new), "the new secret is shown once");
        browser.click_button("Send test event").await;
        browser.wait_for_text("Test message queued").await;
        let received = receiver.wait_for(HOOK, 2).await;
        assert!(received[1].verifies(&new), "signed with the new secret");
        assert!(received[1].verifies(&secret), "and with the old one");
        reload_until_rows(&browser, 2).await;

        // The delete confirmation, left unconfirmed.
        browser.click_link("Delete").await;
        browser.wait_for_text("Delete this endpoint?").await;
        browser.screenshot_themes("webhook-delete-confirm").await;
        browser.click_link("Cancel").await;
        browser.wait_for_path(&endpoint).await;

        browser.close().await;
    }
}
