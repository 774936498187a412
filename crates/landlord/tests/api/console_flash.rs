//! The console's forms answer with a redirect (Post/Redirect/Get), and
//! the page redirected to says what was done once, from a one-time notice
//! kept in the database for the browser's session: a new API key's or
//! webhook endpoint's secret is shown exactly once (never in the POST's own
//! answer), a reload shows it no more and creates nothing, another session
//! (the same person's other browser, or another person) never sees it, the
//! secret is kept sealed, and an unread notice expires. On both backends.

use serde_json::Value;

use crate::backend_tests;
use crate::console::{owner_and_member, Browser, Seen};
use crate::support::{Backend, TestApp};

backend_tests!(
    a_new_keys_secret_and_request_are_shown_once_after_the_redirect,
    a_webhook_secret_is_shown_once_at_creation_and_rotation,
    another_session_never_sees_the_notice,
    an_unread_notice_expires,
    a_refused_form_is_shown_again_and_creates_nothing,
    a_scripts_fetch_or_a_prefetch_leaves_the_notice_for_the_page,
);

/// `html` as the text it shows.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

/// The value of the readonly input `#id`.
fn input_value(page: &Seen, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" class=\"secret\" type=\"text\" value=\"");
    let start = page.body.find(&marker)? + marker.len();
    let end = page.body[start..].find('"')?;
    Some(unescape(&page.body[start..start + end]))
}

/// The ready-to-copy request under a new key (the `#curl` text area).
fn curl_snippet(page: &Seen) -> Option<String> {
    let start = page.body.find("id=\"curl\"")?;
    let open = page.body[start..].find('>')? + start + 1;
    let close = page.body[open..].find("</textarea>")? + open;
    Some(unescape(&page.body[open..close]))
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    app.count(sql, &[bind]).await
}

/// A stored notice: session, notice, kind, details, sealed secrets.
type NoticeRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every stored notice's columns, as text, for looking for a secret.
async fn stored_notices(app: &TestApp) -> Vec<String> {
    let rows: Vec<NoticeRow> =
        sqlx::query_as("SELECT session_id, notice, kind, details, sealed FROM console_flashes")
            .fetch_all(app.db.pool())
            .await
            .expect("the stored notices");
    rows.into_iter()
        .map(|(session, notice, kind, details, sealed)| {
            format!(
                "{session}|{notice}|{}|{}|{}",
                kind.unwrap_or_default(),
                details.unwrap_or_default(),
                sealed.unwrap_or_default()
            )
        })
        .collect()
}

/// The organization's keys page.
fn keys_of(overview: &str) -> String {
    format!("{overview}/keys")
}

async fn a_new_keys_secret_and_request_are_shown_once_after_the_redirect(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("ada@flash.test", "Flashy").await;
    let organization_id = overview.trim_start_matches("/o/").to_string();
    let keys = keys_of(&overview);

    // The form's answer: 303 to the list, no secret in it.
    let created = ada
        .submit(&format!("{keys}/new"), &keys, &[("name", "deploy bot")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some(keys.as_str()));
    assert!(!created.body.contains("sk_live_"));

    // Kept sealed until shown: one notice (its secret looked for below,
    // once the page showed it).
    let stored = stored_notices(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].contains("|v1:"), "sealed: {stored:?}");

    // The list shows it once, with its copy button and a request to copy.
    let shown = ada.get(&keys).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let secret = input_value(&shown, "secret").expect("the secret on the page");
    assert!(secret.starts_with("sk_live_"), "{secret}");
    assert!(!stored[0].contains(&secret), "never in plain: {stored:?}");
    assert!(
        !stored[0].contains(&secret["sk_live_".len()..]),
        "{stored:?}"
    );
    assert!(shown
        .body
        .contains("role=\"status\">The key “deploy bot” is created."));
    assert!(shown.body.contains("data-copy=\"secret\""));
    assert!(shown.body.contains("data-copy=\"curl\""));
    assert!(shown.body.contains("src=\"/static/copy.js?v="));
    let curl = curl_snippet(&shown).expect("the request to copy");
    let public_url = app.config.core.public_url.trim_end_matches('/');
    assert!(
        curl.starts_with(&format!(
            "curl -X POST {public_url}/api/v1/keys/verify -H \"Content-Type: application/json\" -d '"
        )),
        "{curl}"
    );
    // The request works as written, against this server.
    let body = curl
        .split_once("-d '")
        .and_then(|(_, rest)| rest.strip_suffix('\''))
        .expect("the request's body");
    let body: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(body["key"], secret.as_str());
    let verdict = app.post_json("/api/v1/keys/verify", &body).await;
    assert_eq!(verdict.status(), 200);
    let verdict: Value = verdict.json().await.expect("a verdict");
    assert_eq!(verdict["data"]["valid"], true, "{verdict}");
    // Taken as it was read.
    assert!(stored_notices(&app).await.is_empty());

    // Reloaded: neither the secret, nor the request, nor the notice; one key.
    let again = ada.get(&keys).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("deploy bot"));
    assert!(!again.body.contains(&secret));
    assert!(input_value(&again, "secret").is_none());
    assert!(curl_snippet(&again).is_none());
    assert!(!again.body.contains("” is created."));
    assert!(!again.body.contains("/static/copy.js"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1",
            &organization_id
        )
        .await,
        1
    );
}

async fn a_webhook_secret_is_shown_once_at_creation_and_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, _bob, org, _) = owner_and_member(&app, "hooks.flash.test", "Hooked", "member").await;
    let list = format!("/o/{org}/webhooks");

    let created = ada
        .submit(
            &list,
            &list,
            &[
                ("url", "http://127.0.0.1:9/hooks/flash"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert!(!created.body.contains("whsec_"));
    let endpoint = created.location.expect("to the endpoint's page");
    assert!(endpoint.starts_with(&format!("{list}/")), "{endpoint}");
    let stored = stored_notices(&app).await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains("whsec_"), "{stored:?}");

    let shown = ada.get(&endpoint).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let secret = input_value(&shown, "secret").expect("the secret, once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(shown.body.contains("The endpoint is created."));
    assert!(shown.body.contains("it is shown this once"));
    assert!(shown.body.contains("data-copy=\"secret\""));
    let again = ada.get(&endpoint).await;
    assert!(input_value(&again, "secret").is_none());
    assert!(!again.body.contains("whsec_"));
    assert!(!again.body.contains("The endpoint is created."));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1",
            &org
        )
        .await,
        1
    );

    // Rotated: 303 back to the endpoint, the new and the previous secret
    // once.
    let confirm = ada.get(&format!("{endpoint}/rotate-secret")).await;
    let rotated = ada
        .post(
            &format!("{endpoint}/rotate-secret"),
            &[("csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(rotated.status, 303, "{}", rotated.body);
    assert_eq!(rotated.location.as_deref(), Some(endpoint.as_str()));
    assert!(!rotated.body.contains("whsec_"));
    let stored = stored_notices(&app).await;
    assert!(!stored[0].contains("whsec_"), "{stored:?}");
    let shown = ada.get(&endpoint).await;
    let new = input_value(&shown, "secret").expect("the new secret");
    assert!(new.starts_with("whsec_") && new != secret);
    assert_eq!(
        input_value(&shown, "previous_secret").as_deref(),
        Some(secret.as_str())
    );
    assert!(shown.body.contains("The signing secret is rotated."));
    assert!(shown.body.contains("keeps signing beside it until"));
    let again = ada.get(&endpoint).await;
    assert!(!again.body.contains("whsec_"), "{}", again.body);
    assert!(!again.body.contains("is rotated"));
    // One rotation: the audit log has it once.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE organization_id = $1 \
             AND action = 'webhook_endpoint.secret_rotated'",
            &org
        )
        .await,
        1
    );
}

async fn another_session_never_sees_the_notice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ada, bob, org, _) = owner_and_member(&app, "others.flash.test", "Shared", "admin").await;
    let keys = format!("/o/{org}/keys");
    // Ada's second browser: the same person, another session.
    let ada_elsewhere = Browser::new(&app);
    let signed = ada_elsewhere
        .sign_in("ada@others.flash.test", crate::support::accounts::PASSWORD)
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);

    let created = ada
        .submit(&format!("{keys}/new"), &keys, &[("name", "private")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);

    let mut seen_elsewhere = Vec::new();
    for (who, browser) in [("Ada's other session", &ada_elsewhere), ("Bob", &bob)] {
        let page = browser.get(&keys).await;
        assert_eq!(page.status, 200, "{who}: {}", page.body);
        assert!(page.body.contains("private"), "{who} sees the key listed");
        assert!(
            input_value(&page, "secret").is_none(),
            "{who}: {}",
            page.body
        );
        assert!(curl_snippet(&page).is_none(), "{who}");
        assert!(!page.body.contains("” is created."), "{who}");
        // Nor on any other page.
        let overview = browser.get(&format!("/o/{org}")).await;
        assert!(!overview.body.contains("” is created."), "{who}");
        seen_elsewhere.push(page.body);
        seen_elsewhere.push(overview.body);
    }
    // Still waiting for Ada's own browser, which sees it once.
    let page = ada.get(&keys).await;
    let secret = input_value(&page, "secret").expect("the secret in Ada's browser");
    assert!(page.body.contains("The key “private” is created."));
    assert!(seen_elsewhere.iter().all(|body| !body.contains(&secret)));
    assert!(!ada.get(&keys).await.body.contains(&secret));
}

async fn an_unread_notice_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("late@flash.test", "Late").await;
    let keys = keys_of(&overview);
    let created = ada
        .submit(&format!("{keys}/new"), &keys, &[("name", "forgotten")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    // Past its few minutes.
    let past = crate::support::clock::now_ms() - 1;
    sqlx::query("UPDATE console_flashes SET expires_at = $1")
        .bind(past)
        .execute(app.db.pool())
        .await
        .expect("the notice aged");
    let page = ada.get(&keys).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("forgotten"), "the key is listed");
    assert!(input_value(&page, "secret").is_none(), "{}", page.body);
    assert!(!page.body.contains("” is created."));
    // Purged, not only hidden.
    assert!(stored_notices(&app).await.is_empty());
}

async fn a_refused_form_is_shown_again_and_creates_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("typo@flash.test", "Typos").await;
    let organization_id = overview.trim_start_matches("/o/").to_string();
    let keys = keys_of(&overview);
    let refused = ada
        .submit(
            &format!("{keys}/new"),
            &keys,
            &[("name", "bad"), ("rate_limit_per_minute", "lots")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.field_error("rate_limit_per_minute").is_some());
    assert!(stored_notices(&app).await.is_empty());
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1",
            &organization_id
        )
        .await,
        0
    );
    // A notice stays for the next page after a refused form: the account
    // name saved, then a refused name keeps nothing of it.
    let account = ada.get("/account").await;
    let saved = ada
        .post(
            "/account/name",
            &[("csrf", &account.csrf()), ("name", "Ada Lovelace")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/account"));
    let page = ada.get("/account").await;
    assert!(page.body.contains("role=\"status\">Your name is changed."));
    assert!(!ada
        .get("/account")
        .await
        .body
        .contains("Your name is changed."));
}

/// A script's `fetch` of a page (the inbox's catch-up when its live stream
/// opens) and a browser's prefetch carry `Sec-Fetch-*` / `Sec-Purpose`
/// headers: they do not take the notice the page itself is to show.
async fn a_scripts_fetch_or_a_prefetch_leaves_the_notice_for_the_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = Browser::new(&app);
    let overview = ada.sign_up("fetch@flash.test", "Fetch").await;
    let keys = keys_of(&overview);
    let created = ada
        .submit(&format!("{keys}/new"), &keys, &[("name", "fetched")])
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    for headers in [
        vec![("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")],
        vec![("sec-fetch-mode", "navigate"), ("sec-purpose", "prefetch")],
    ] {
        let mut request = app
            .client
            .get(app.url(&keys))
            .header(reqwest::header::COOKIE, ada.cookie_header());
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.expect("the fetch");
        assert_eq!(answer.status(), 200);
        let body = answer.text().await.expect("its body");
        assert!(!body.contains("” is created."), "{headers:?}: {body}");
    }
    // The navigation that follows shows it, once.
    let navigated = ada.get(&keys).await;
    assert!(navigated.body.contains("The key “fetched” is created."));
    assert!(input_value(&navigated, "secret").is_some());
    assert!(!ada.get(&keys).await.body.contains("” is created."));
}
