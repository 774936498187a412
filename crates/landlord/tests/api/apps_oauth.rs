//! Landlord as an OAuth 2.1 / OpenID Connect provider, over HTTP on SQLite
//! and PostgreSQL: a person signs in to an app through the console's
//! sign-in and consent pages (PKCE S256, byte-exact redirect URIs), the
//! app exchanges the code, refreshes (rotation, a grace for concurrent
//! refreshes, reuse revoking the family), revokes and introspects; and a
//! client library no one here wrote (Python's authlib) does the same.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backend_tests;
use crate::console::{Browser, Seen};
use crate::support::accounts::PASSWORD;
use crate::support::app::{json, report_skip, services_required, TestApp};
use crate::support::apps::{publisher, Publisher};
use crate::support::Backend;

backend_tests!(
    a_person_signs_in_through_the_consent_page_and_the_app_gets_tokens,
    consent_is_remembered_and_asked_again_for_more,
    the_authorization_endpoint_refuses_on_a_page_or_to_the_app,
    a_code_is_single_use_and_bound_to_its_client_redirect_and_verifier,
    refresh_tokens_rotate_and_a_late_reuse_revokes_the_family,
    two_concurrent_refreshes_both_succeed_within_the_grace,
    revocation_and_introspection_answer_the_client_only,
    a_removed_member_and_a_suspended_app_lose_their_tokens_at_once,
    authlib_runs_the_whole_flow,
);

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/oauth/authorize?…` with `params`.
fn authorize_path(params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    format!("/oauth/authorize?{}", query.finish())
}

/// The usual request of `client_id` with `challenge`.
fn request<'a>(client_id: &'a str, challenge: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-42 x"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The query of a redirect's `Location`.
pub(crate) fn query_of(location: &str) -> BTreeMap<String, String> {
    let url = url::Url::parse(location).unwrap_or_else(|_| panic!("absolute: {location}"));
    url.query_pairs().into_owned().collect()
}

/// The hidden fields of the consent page's form.
pub(crate) fn hidden_fields(page: &Seen) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = page.body.as_str();
    let marker = "<input type=\"hidden\" name=\"";
    while let Some(start) = rest.find(marker) {
        rest = &rest[start + marker.len()..];
        let name_end = rest.find('"').expect("name's end");
        let name = rest[..name_end].to_string();
        let value_marker = "value=\"";
        let value_start = rest.find(value_marker).expect("a value") + value_marker.len();
        let value_end = rest[value_start..].find('"').expect("value's end");
        let value = rest[value_start..value_start + value_end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#x2F;", "/")
            .replace("&#x2f;", "/");
        fields.push((name, value));
    }
    fields
}

/// Answers the consent page `page` with `decision` (`allow` or `deny`);
/// returns the redirect's query.
async fn decide(browser: &Browser<'_>, page: &Seen, decision: &str) -> BTreeMap<String, String> {
    let fields = hidden_fields(page);
    let mut form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    form.push(("decision", decision));
    let answer = browser.post("/oauth/consent", &form).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let location = answer.location.expect("a redirect");
    assert!(location.starts_with(REDIRECT), "{location}");
    query_of(&location)
}

/// A signed-in person allows `client_id`'s request (the consent page, or
/// straight back when remembered): the code.
async fn code_for(browser: &Browser<'_>, client_id: &str, challenge: &str, scope: &str) -> String {
    let page = browser
        .get(&authorize_path(&request(client_id, challenge, scope)))
        .await;
    let query = match page.status {
        StatusCode::OK => decide(browser, &page, "allow").await,
        StatusCode::SEE_OTHER => query_of(page.location.as_deref().expect("a redirect")),
        other => panic!("{other}: {}", page.body),
    };
    assert_eq!(query.get("state").map(String::as_str), Some("st-42 x"));
    query
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("{query:?}"))
}

/// `POST path` as `publisher`'s confidential client (Basic).
async fn as_client(
    app: &TestApp,
    publisher: &Publisher,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(path))
        .basic_auth(publisher.client_id(), publisher.client_secret())
        .form(form)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn exchange(
    app: &TestApp,
    publisher: &Publisher,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    as_client(
        app,
        publisher,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(app: &TestApp, publisher: &Publisher, token: &str) -> (StatusCode, Value) {
    as_client(
        app,
        publisher,
        "/oauth/token",
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn introspect(app: &TestApp, publisher: &Publisher, token: &str) -> Value {
    let (status, body) = as_client(app, publisher, "/oauth/introspect", &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A person who signs in to the console (the publisher's owner, `email`).
pub(crate) async fn person<'a>(app: &'a TestApp, email: &str) -> Browser<'a> {
    let browser = Browser::new(app);
    let seen = browser.sign_in(email, PASSWORD).await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    browser
}

/// Signs in and exchanges a code: the token answer.
pub(crate) async fn tokens_for(
    app: &TestApp,
    publisher: &Publisher,
    browser: &Browser<'_>,
    scope: &str,
) -> Value {
    let (verifier, challenge) = pkce();
    let code = code_for(browser, publisher.client_id(), &challenge, scope).await;
    let (status, body) = exchange(app, publisher, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn a_person_signs_in_through_the_consent_page_and_the_app_gets_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "ada@oauth.test", json!({})).await;
    let (verifier, challenge) = pkce();
    let authorize = authorize_path(&request(
        publisher.client_id(),
        &challenge,
        "openid profile email",
    ));

    // Signed out: the sign-in page first, which comes back here.
    let browser = Browser::new(&app);
    let first = browser.get(&authorize).await;
    assert_eq!(first.status, 303);
    let sign_in = first.location.clone().expect("to the sign-in page");
    assert!(
        sign_in.starts_with("/sign-in?next=%2Foauth%2Fauthorize%3F"),
        "{sign_in}"
    );
    let form = browser.get(&sign_in).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"next\""), "{}", form.body);
    let signed_in = browser
        .post(
            "/sign-in",
            &[
                ("csrf", &form.csrf()),
                ("email", "ada@oauth.test"),
                ("password", PASSWORD),
                (
                    "next",
                    &hidden_fields(&form)
                        .into_iter()
                        .find(|(n, _)| n == "next")
                        .expect("next")
                        .1,
                ),
            ],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let back = signed_in.location.expect("back to the request");
    assert_eq!(
        query_of(&format!("http://x{back}")),
        query_of(&format!("http://x{authorize}")),
        "the same request"
    );
    // A return path to another site is ignored.
    let elsewhere = Browser::new(&app);
    let page = elsewhere.get("/sign-in?next=%2F%2Fevil.example%2F").await;
    assert!(!page.body.contains("evil.example"), "{}", page.body);

    // The consent page: the app, its publisher, the scopes in words.
    let consent = browser.get(&back).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("Sign in to Notes"),
        "{}",
        consent.body
    );
    assert!(
        consent.body.contains("ada@oauth.test org"),
        "the publisher: {}",
        consent.body
    );
    for words in [
        "confirm who you are (your Landlord account id)",
        "see your name",
        "see your email address and whether it is verified",
    ] {
        assert!(consent.body.contains(words), "{words}");
    }
    assert!(!consent.body.contains("see the organization&#x27;s members"));
    let csp = consent.csp.clone().expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let framing = app
        .client
        .get(app.url(&back))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(framing.headers()["x-frame-options"], "DENY");

    // A forged form (no CSRF token of this session) is refused.
    let mut forged: Vec<(String, String)> = hidden_fields(&consent)
        .into_iter()
        .filter(|(n, _)| n != "csrf")
        .collect();
    forged.push(("decision".into(), "allow".into()));
    let forged: Vec<(&str, &str)> = forged
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let refused = browser.post("/oauth/consent", &forged).await;
    assert_eq!(refused.status, 403);
    assert!(refused.location.is_none());

    // Allow: back to the app with a code and the state.
    let query = decide(&browser, &consent, "allow").await;
    assert_eq!(query["state"], "st-42 x");
    let code = &query["code"];
    assert!(code.starts_with("llc_"), "{code}");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oauth_codes WHERE code_hash = $1",
            &[code]
        )
        .await,
        0,
        "stored hashed"
    );

    // The app exchanges it.
    let (status, tokens) = exchange(&app, &publisher, code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["scope"], "email openid profile");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert!(access.starts_with("lla_") && refresh_token.starts_with("llr_"));
    assert!(
        tokens["id_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{tokens}"
    );
    for secret in [access, refresh_token] {
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM oauth_tokens WHERE token_hash = $1",
                &[secret]
            )
            .await,
            0
        );
    }

    // Userinfo: who signed in.
    let info = app
        .client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info = json(info).await;
    assert_eq!(info["sub"], app.user_id("ada@oauth.test").await);
    assert_eq!(info["email"], "ada@oauth.test");
    assert_eq!(info["email_verified"], false);
    assert_eq!(info["name"], "Test User");
    let bad = app
        .client
        .post(app.url("/oauth/userinfo"))
        .bearer_auth("lla_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(json(bad).await["error"], "invalid_token");

    // Deny: back to the app with access_denied and the state, no code.
    let other = publisher_app_for_deny(&app, &publisher).await;
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_path(&request(&other, &challenge, "openid")))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let denied = decide(&browser, &page, "deny").await;
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], "st-42 x");
    assert!(!denied.contains_key("code"));
}

/// A second app of `publisher`'s (for a decision of its own).
async fn publisher_app_for_deny(app: &TestApp, publisher: &Publisher) -> String {
    let created = app
        .post_as(
            "/api/v1/apps",
            &publisher.token,
            &json!({"slug": "notes-two", "name": "Notes two", "client_type": "public",
                    "redirect_uris": [REDIRECT], "scopes": ["openid"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    json(created).await["data"]["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn consent_is_remembered_and_asked_again_for_more(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "rem@oauth.test", json!({})).await;
    let browser = person(&app, "rem@oauth.test").await;
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_path(&request(
            publisher.client_id(),
            &challenge,
            "openid",
        )))
        .await;
    assert_eq!(page.status, 200);
    decide(&browser, &page, "allow").await;

    // The same scopes, or fewer: straight back with a code.
    let again = browser
        .get(&authorize_path(&request(
            publisher.client_id(),
            &challenge,
            "openid",
        )))
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let query = query_of(again.location.as_deref().unwrap());
    assert!(query["code"].starts_with("llc_"));
    assert_eq!(query["state"], "st-42 x");

    // More: the page again, naming what is new.
    let more = browser
        .get(&authorize_path(&request(
            publisher.client_id(),
            &challenge,
            "openid email",
        )))
        .await;
    assert_eq!(more.status, 200, "{}", more.body);
    assert!(more.body.contains("see your email address"));
    decide(&browser, &more, "allow").await;
    let covered = browser
        .get(&authorize_path(&request(
            publisher.client_id(),
            &challenge,
            "email",
        )))
        .await;
    assert_eq!(covered.status, 303);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM oauth_consents WHERE revoked_at IS NULL",
            &[]
        )
        .await,
        1,
        "one consent, widened"
    );
}

async fn the_authorization_endpoint_refuses_on_a_page_or_to_the_app(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(
        &app,
        "refuse@oauth.test",
        json!({"redirect_uris": [REDIRECT, "https://notes.example.com/cb?x=1"]}),
    )
    .await;
    let browser = person(&app, "refuse@oauth.test").await;
    let (_, challenge) = pkce();
    let base = request(publisher.client_id(), &challenge, "openid");
    let with = |name: &str, value: Option<&str>| -> String {
        let mut params: Vec<(&str, &str)> =
            base.iter().filter(|(n, _)| *n != name).cloned().collect();
        if let Some(value) = value {
            params.push((name, value));
        }
        authorize_path(&params)
    };

    // Shown to the person, never redirected: unknown client, a redirect
    // URI one character off or with a trailing slash, none when several
    // are registered.
    let unknown = unknown_app_id();
    for path in [
        with("client_id", Some(&unknown)),
        with("client_id", Some("not-an-id")),
        with("client_id", None),
        with("redirect_uri", Some("http://127.0.0.1:9/callbacK")),
        with("redirect_uri", Some("http://127.0.0.1:9/callback/")),
        with("redirect_uri", Some("http://127.0.0.1:9/callback?x=1")),
        with(
            "redirect_uri",
            Some("http://127.0.0.1:9/callback.evil.example"),
        ),
        with("redirect_uri", None),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.location.is_none(), "{path}");
        assert!(page.body.contains("This sign-in cannot go on"), "{path}");
    }

    // Refused to the app, with the state: no or plain PKCE, another
    // response type, a scope the app did not register.
    for (path, error) in [
        (
            with("code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (with("code_challenge_method", None), "invalid_request"),
        (with("code_challenge", None), "invalid_request"),
        (with("code_challenge", Some("too-short")), "invalid_request"),
        (
            with("response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with("response_type", None), "invalid_request"),
        (with("scope", Some("openid members:read")), "invalid_scope"),
        (with("scope", Some("openid billing:write")), "invalid_scope"),
    ] {
        let answer = browser.get(&path).await;
        assert_eq!(answer.status, 303, "{path}: {}", answer.body);
        let location = answer.location.unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:9/callback?"),
            "{location}"
        );
        let query = query_of(&location);
        assert_eq!(query["error"], error, "{path}");
        assert!(!query["error_description"].is_empty());
        assert_eq!(query["state"], "st-42 x");
        assert!(!query.contains_key("code"));
    }
    // A registered URI with a query keeps it.
    let path = with("redirect_uri", Some("https://notes.example.com/cb?x=1"));
    let path = format!("{path}&code_challenge_method=plain");
    let answer = browser.get(&path).await;
    let location = answer.location.unwrap();
    assert!(
        location.starts_with("https://notes.example.com/cb?x=1&error=invalid_request"),
        "{location}"
    );

    // A suspended app signs no one in.
    sqlx::query("UPDATE apps SET status = 'suspended' WHERE id = $1")
        .bind(publisher.client_id())
        .execute(app.db.pool())
        .await
        .unwrap();
    let page = browser.get(&authorize_path(&base)).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
}

/// An id no app has.
fn unknown_app_id() -> String {
    landlord_apps::ids::AppId::generate().to_string()
}

async fn a_code_is_single_use_and_bound_to_its_client_redirect_and_verifier(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "code@oauth.test", json!({})).await;
    let browser = person(&app, "code@oauth.test").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&browser, publisher.client_id(), &challenge, "openid email").await;

    // Wrong verifier, wrong redirect URI: refused, the code not spent.
    let (wrong, _) = pkce();
    let (status, body) = exchange(&app, &publisher, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = as_client(
        &app,
        &publisher,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback/"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Without the verifier: invalid_request.
    let (status, body) = as_client(
        &app,
        &publisher,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // A confidential client with a wrong secret.
    let wrong_secret = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(publisher.client_id(), Some("llcs_wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    assert!(wrong_secret.headers().contains_key("www-authenticate"));
    assert_eq!(json(wrong_secret).await["error"], "invalid_client");

    // Another client cannot use it.
    let public = publisher_app_for_deny(&app, &publisher).await;
    let theirs = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &public),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 400);
    assert_eq!(json(theirs).await["error"], "invalid_grant");

    // The right one works once.
    let (status, tokens) = exchange(&app, &publisher, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "email openid");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &publisher, access).await["active"], true);

    // A replay is refused, and what the code issued is revoked.
    let (status, body) = exchange(&app, &publisher, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(
        introspect(&app, &publisher, access).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &publisher, refresh_token).await,
        json!({"active": false})
    );
    let (status, _) = refresh(&app, &publisher, refresh_token).await;
    assert_eq!(status, 400);

    // An expired code.
    let (verifier, challenge) = pkce();
    let code = code_for(&browser, publisher.client_id(), &challenge, "openid").await;
    sqlx::query("UPDATE oauth_codes SET expires_at = expires_at - 61000 WHERE used_at IS NULL")
        .execute(app.db.pool())
        .await
        .unwrap();
    let (status, body) = exchange(&app, &publisher, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Grants: unknown type; a public client may not ask for client_credentials.
    let (status, body) = as_client(
        &app,
        &publisher,
        "/oauth/token",
        &[("grant_type", "password")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let public_cc = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", &public)])
        .send()
        .await
        .unwrap();
    assert_eq!(public_cc.status(), 400);
    assert_eq!(public_cc.headers()["cache-control"], "no-store");
    assert_eq!(json(public_cc).await["error"], "unauthorized_client");
    // A form that is not one.
    let not_a_form = app
        .client
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_a_form.status(), 400);
    assert_eq!(json(not_a_form).await["error"], "invalid_request");
}

async fn refresh_tokens_rotate_and_a_late_reuse_revokes_the_family(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.apps.refresh_reuse_grace_secs = 1).await;
    let publisher = publisher(&app, "rot@oauth.test", json!({})).await;
    let browser = person(&app, "rot@oauth.test").await;
    let first = tokens_for(&app, &publisher, &browser, "openid profile").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();

    let (status, second) = refresh(&app, &publisher, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(second["scope"], "openid profile");
    // Narrowing is allowed, widening is not.
    let (status, narrowed) = as_client(
        &app,
        &publisher,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("scope", "openid email"),
        ],
    )
    .await;
    assert_eq!(
        (status, narrowed["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );

    // Within the grace: the old one works once more.
    let (status, grace) = refresh(&app, &publisher, &r1).await;
    assert_eq!(status, 200, "{grace}");
    let r3 = grace["refresh_token"].as_str().unwrap().to_string();
    let a3 = grace["access_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&app, &publisher, &a3).await["active"], true);

    // After it: a reuse, and the whole family is revoked.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, reused) = refresh(&app, &publisher, &r1).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    for token in [
        &r2,
        &r3,
        &a3,
        first["access_token"].as_str().unwrap(),
        second["access_token"].as_str().unwrap(),
    ] {
        assert_eq!(
            introspect(&app, &publisher, token).await,
            json!({"active": false}),
            "{token}"
        );
    }
    let (status, _) = refresh(&app, &publisher, &r3).await;
    assert_eq!(status, 400);

    // With no grace, the second use of a rotated token is a reuse at once.
    let app = TestApp::spawn_with(backend, |c| c.apps.refresh_reuse_grace_secs = 0).await;
    let publisher = publisher_again(&app).await;
    let browser = person(&app, "zero@oauth.test").await;
    let first = tokens_for(&app, &publisher, &browser, "openid").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&app, &publisher, r1).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&app, &publisher, r1).await;
    assert_eq!(status, 400);
    assert_eq!(
        introspect(&app, &publisher, second["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
}

async fn publisher_again(app: &TestApp) -> Publisher {
    publisher(app, "zero@oauth.test", json!({})).await
}

async fn two_concurrent_refreshes_both_succeed_within_the_grace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "race@oauth.test", json!({})).await;
    let browser = person(&app, "race@oauth.test").await;
    let first = tokens_for(&app, &publisher, &browser, "openid").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(refresh(&app, &publisher, r1), refresh(&app, &publisher, r1));
    assert_eq!(a.0, 200, "{}", a.1);
    assert_eq!(b.0, 200, "{}", b.1);
    assert_ne!(a.1["refresh_token"], b.1["refresh_token"]);
    for answer in [&a.1, &b.1] {
        let access = answer["access_token"].as_str().unwrap();
        assert_eq!(introspect(&app, &publisher, access).await["active"], true);
    }
    // Each only once: a third use is a reuse, and revokes the family.
    let (status, _) = refresh(&app, &publisher, r1).await;
    assert_eq!(status, 400);
    assert_eq!(
        introspect(&app, &publisher, a.1["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
}

async fn revocation_and_introspection_answer_the_client_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "rev@oauth.test", json!({})).await;
    let browser = person(&app, "rev@oauth.test").await;
    let tokens = tokens_for(&app, &publisher, &browser, "openid email").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    // Introspection: the client only.
    let anonymous = app
        .client
        .post(app.url("/oauth/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(json(anonymous).await["error"], "invalid_client");
    let active = introspect(&app, &publisher, access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["scope"], "email openid");
    assert_eq!(active["client_id"], publisher.client_id());
    assert_eq!(active["sub"], app.user_id("rev@oauth.test").await);
    assert_eq!(active["token_type"], "Bearer");
    assert!(
        active["organization_id"]
            .as_str()
            .is_some_and(|o| !o.is_empty()),
        "{active}"
    );
    let (exp, iat) = (
        active["exp"].as_i64().unwrap(),
        active["iat"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 900);
    assert_eq!(
        introspect(&app, &publisher, "lla_unknown").await,
        json!({"active": false})
    );

    // Another client: its token is not ours to see or revoke.
    let other =
        crate::support::apps::publisher(&app, "other@oauth.test", json!({"slug": "other-notes"}))
            .await;
    assert_eq!(
        introspect(&app, &other, access).await,
        json!({"active": false})
    );
    let (status, _) = as_client(&app, &other, "/oauth/revoke", &[("token", refresh_token)]).await;
    assert_eq!(status, 200);
    assert_eq!(introspect(&app, &publisher, access).await["active"], true);

    // Unknown: 200 too.
    let (status, _) = as_client(
        &app,
        &publisher,
        "/oauth/revoke",
        &[("token", "llr_unknown")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = as_client(&app, &publisher, "/oauth/revoke", &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    // A refresh token, with a wrong hint: found, and its family revoked.
    let (status, _) = as_client(
        &app,
        &publisher,
        "/oauth/revoke",
        &[
            ("token", refresh_token),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        introspect(&app, &publisher, refresh_token).await,
        json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &publisher, access).await,
        json!({"active": false})
    );
    let (status, _) = as_client(
        &app,
        &publisher,
        "/oauth/revoke",
        &[("token", refresh_token)],
    )
    .await;
    assert_eq!(status, 200, "revoked already: 200");

    // An access token alone: the refresh token keeps working.
    let tokens = tokens_for(&app, &publisher, &browser, "openid").await;
    let (status, _) = as_client(
        &app,
        &publisher,
        "/oauth/revoke",
        &[("token", tokens["access_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        introspect(&app, &publisher, tokens["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
    let (status, _) = refresh(&app, &publisher, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
}

async fn a_removed_member_and_a_suspended_app_lose_their_tokens_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let publisher = publisher(&app, "owner@oauth.test", json!({})).await;
    let organization =
        crate::support::accounts::data(app.get_as("/api/v1/apps", &publisher.token).await).await[0]
            ["organization_id"]
            .as_str()
            .unwrap()
            .to_string();
    // Bob, a member of the publisher's organization, signs in there.
    let bob = Browser::new(&app);
    bob.sign_up("bob@oauth.test", "Bob's").await;
    let bob_id = app.user_id("bob@oauth.test").await;
    app.add_membership(&organization, &bob_id, "member").await;
    sqlx::query("UPDATE refresh_sessions SET organization_id = $1 WHERE user_id = $2")
        .bind(&organization)
        .bind(&bob_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let tokens = tokens_for(&app, &publisher, &bob, "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let active = introspect(&app, &publisher, access).await;
    assert_eq!(active["organization_id"], organization.as_str());

    // Removed from the organization: inactive at once.
    let removed = app
        .client
        .delete(app.url(&format!("/api/v1/team/members/{bob_id}")))
        .bearer_auth(&publisher.token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    assert_eq!(
        introspect(&app, &publisher, access).await,
        json!({"active": false})
    );
    let (status, _) = refresh(&app, &publisher, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 400);

    // A suspended app: its tokens stop, its client is refused.
    let browser = person(&app, "owner@oauth.test").await;
    let tokens = tokens_for(&app, &publisher, &browser, "openid").await;
    let access = tokens["access_token"].as_str().unwrap();
    let works = app
        .client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(works.status(), 200);
    sqlx::query("UPDATE apps SET status = 'suspended' WHERE id = $1")
        .bind(publisher.client_id())
        .execute(app.db.pool())
        .await
        .unwrap();
    let stopped = app
        .client
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status(), 401);
    let (status, body) = refresh(&app, &publisher, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

// ---- a client library no one here wrote ------------------------------------------------------

const CLIENT_SCRIPT: &str = include_str!("support/oauth_client.py");

async fn authlib_runs_the_whole_flow(backend: Backend) {
    let test = "apps_oauth::authlib_runs_the_whole_flow";
    let Some(python) = crate::support::python::python_with("authlib, requests") else {
        let why = "no python with authlib (set TEST_PYTHON or run .ci/run once)";
        assert!(!services_required(), "{test}: required under CI: {why}");
        report_skip(test, why);
        return;
    };
    let app = TestApp::spawn_with(backend, |c| c.apps.refresh_reuse_grace_secs = 1).await;
    let confidential = publisher(&app, "py@oauth.test", json!({})).await;
    let public = app
        .post_as(
            "/api/v1/apps",
            &confidential.token,
            &json!({"slug": "notes-spa", "name": "Notes SPA", "client_type": "public",
                    "redirect_uris": [REDIRECT], "scopes": ["openid", "email"]}),
        )
        .await;
    assert_eq!(public.status(), 201);
    let public = json(public).await["data"].clone();
    let browser = person(&app, "py@oauth.test").await;
    let input = json!({
        "base": app.url(""),
        "session": browser.cookie("landlord_session").expect("signed in"),
        "client_id": confidential.client_id(),
        "client_secret": confidential.client_secret(),
        "public_client_id": public["client_id"],
        "redirect_uri": REDIRECT,
        "grace_secs": 1,
        "email": "py@oauth.test",
        "user_id": app.user_id("py@oauth.test").await,
    });
    let script = CLIENT_SCRIPT.to_string();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client failed:\n{stdout}\n{stderr}"
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("a report: {stdout}"));
    // What the script checked, step by step.
    for step in [
        "discovery",
        "authorization_code",
        "id_token_verified",
        "userinfo",
        "refresh_rotated",
        "grace_once",
        "reuse_revokes_family",
        "revoked",
        "introspected",
        "public_client",
        "refused_plain_pkce",
        "refused_missing_pkce",
        "refused_redirect_uri",
        "refused_replayed_code",
        "refused_wrong_secret",
        "refused_public_client_credentials",
    ] {
        assert_eq!(report[step], true, "{step}: {report}");
    }
    // Nothing the library received is stored as it is.
    for token in report["seen_tokens"].as_array().unwrap() {
        let token = token.as_str().unwrap();
        assert_eq!(
            app.count(
                "SELECT COUNT(*) FROM oauth_tokens WHERE token_hash = $1",
                &[token]
            )
            .await,
            0
        );
    }
}
