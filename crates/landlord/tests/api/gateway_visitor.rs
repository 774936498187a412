//! Who calls an app through the gateway: a person's access token of this
//! app, an installation's token, or the gateway's own sign-in on the app's
//! host (a sealed session cookie); a token of another app, a revoked one
//! or garbage identifies no one. Seen through `/_landlord/me` on the
//! app's host. Over HTTP (the `Host` header on 127.0.0.1), on SQLite and
//! PostgreSQL.

use std::time::Duration;

use axum::http::Method;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_oauth::{hidden_fields, person, query_of, tokens_for};
use crate::backend_tests;
use crate::support::accounts::{data, signed_in};
use crate::support::app::{json, TestApp};
use crate::support::apps::{operator, publisher, Publisher};
use crate::support::eventually::eventually;
use crate::support::gateway::{
    allow_loopback_upstreams, at_host, get_at, host_of, published_app, Upstream,
};
use crate::support::Backend;

backend_tests!(
    this_apps_access_tokens_identify_their_person_and_no_other_token_does,
    an_installations_token_identifies_its_organization_and_installation,
    a_person_signs_in_on_the_apps_host_and_out_again,
);

/// What `/_landlord/me` on `slug`'s host answers to `request`.
async fn me(app: &TestApp, slug: &str, header: Option<(&str, String)>) -> Value {
    let mut request = at_host(app, Method::GET, &host_of(slug), "/_landlord/me");
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let answer = request.send().await.expect("sent");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    json(answer).await
}

fn bearer(token: &str) -> Option<(&'static str, String)> {
    Some((AUTHORIZATION.as_str(), format!("Bearer {token}")))
}

fn anonymous() -> Value {
    json!({"user_id": null, "email": null, "organization_id": null, "installation_id": null})
}

/// An app `slug` published with `fields` (its organization's scopes…).
async fn published_with(
    app: &TestApp,
    email: &str,
    slug: &str,
    upstream: &str,
    fields: Value,
) -> Publisher {
    let mut body = json!({ "slug": slug, "name": format!("App {slug}"), "upstream_url": upstream });
    if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
        for (key, value) in fields {
            body.insert(key.clone(), value.clone());
        }
    }
    let publisher = publisher(app, email, body).await;
    let id = publisher.client_id().to_owned();
    let submitted = app
        .post_as(
            &format!("/api/v1/apps/{id}/submit"),
            &publisher.token,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), 200, "submitted");
    let operator = operator(app, &format!("operator-{slug}@example.com")).await;
    let published = app
        .post_as(
            &format!("/api/v1/admin/apps/{id}/publish"),
            &operator,
            &json!({}),
        )
        .await;
    assert_eq!(published.status(), 200, "published");
    publisher
}

async fn revoke(app: &TestApp, publisher: &Publisher, token: &str) {
    let answer = app
        .client
        .post(app.url("/oauth/revoke"))
        .basic_auth(publisher.client_id(), publisher.client_secret())
        .form(&[("token", token)])
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
}

async fn this_apps_access_tokens_identify_their_person_and_no_other_token_does(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let notes = published_app(&app, "dev@visitor.test", "notes", &upstream.url()).await;
    let ledger = published_app(&app, "dev@ledger.test", "ledger", &upstream.url()).await;
    let (_, account) = signed_in(&app, "ada@visitor.test").await;
    let ada = app.user_id("ada@visitor.test").await;
    let ada_org = account["organization"]["id"]
        .as_str()
        .expect("org")
        .to_owned();
    let browser = person(&app, "ada@visitor.test").await;

    // Nobody: anonymous.
    assert_eq!(me(&app, "notes", None).await, anonymous());

    // A person's access token of this app: the person, in their organization.
    let token = tokens_for(&app, &notes, &browser, "openid email").await;
    let token = token["access_token"].as_str().expect("a token").to_owned();
    let seen = me(&app, "notes", bearer(&token)).await;
    assert_eq!(
        seen,
        json!({"user_id": ada, "email": "ada@visitor.test", "organization_id": ada_org,
               "installation_id": null})
    );
    // Again (now from the cache): the same.
    assert_eq!(me(&app, "notes", bearer(&token)).await, seen);
    // Without the email scope, no email.
    let narrow = tokens_for(&app, &notes, &browser, "openid").await;
    let narrow = narrow["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(
        me(&app, "notes", bearer(&narrow)).await,
        json!({"user_id": ada, "email": null, "organization_id": ada_org,
               "installation_id": null})
    );

    // The same person's token of another app: no one here (an app cannot
    // replay its users' tokens at another app), though it works there.
    let theirs = tokens_for(&app, &ledger, &browser, "openid").await;
    let theirs = theirs["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(me(&app, "notes", bearer(&theirs)).await, anonymous());
    assert_eq!(me(&app, "ledger", bearer(&theirs)).await["user_id"], ada);

    // Garbage, and another scheme's token.
    let garbage = format!("lla_{}", "0".repeat(64));
    assert_eq!(me(&app, "notes", bearer(&garbage)).await, anonymous());
    assert_eq!(me(&app, "notes", bearer("not-a-token")).await, anonymous());
    assert_eq!(
        me(&app, "notes", Some(("authorization", "Basic YTpi".into()))).await,
        anonymous()
    );

    // A revoked token.
    let revoked = tokens_for(&app, &notes, &browser, "openid").await;
    let revoked_access = revoked["access_token"].as_str().expect("a token");
    revoke(&app, &notes, revoked_access).await;
    assert_eq!(me(&app, "notes", bearer(revoked_access)).await, anonymous());
    // A refresh token is not a bearer token.
    let refresh = revoked["refresh_token"].as_str().expect("a refresh token");
    let other = tokens_for(&app, &notes, &browser, "openid").await;
    let refresh_live = other["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(me(&app, "notes", bearer(refresh_live)).await, anonymous());
    assert_eq!(me(&app, "notes", bearer(refresh)).await, anonymous());

    // The token goes on to the app with the request (the app may use it on
    // Landlord's API); the gateway's paths never reach the upstream.
    let answer = at_host(&app, Method::GET, &host_of("notes"), "/page")
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
    let received = upstream.received();
    assert_eq!(received.len(), 1, "only /page reached the upstream");
    assert_eq!(received[0].uri, "/page");
    let unknown = get_at(&app, &host_of("notes"), "/_landlord/nothing").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(upstream.received().len(), 1);
}

async fn an_installations_token_identifies_its_organization_and_installation(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let notes = published_with(
        &app,
        "dev@install-visitor.test",
        "notes",
        &upstream.url(),
        json!({"organization_scopes": ["organizations:read"]}),
    )
    .await;
    let (owner, _) = signed_in(&app, "owner@install-visitor.test").await;
    let installed = data(
        app.post_as(
            "/api/v1/installations",
            &owner,
            &json!({"app_id": notes.client_id(), "scopes": ["organizations:read"]}),
        )
        .await,
    )
    .await;
    let installation_id = installed["id"].as_str().expect("an id").to_owned();
    let answer = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(notes.client_id(), notes.client_secret())
        .form(&[
            ("grant_type", "client_credentials"),
            ("installation_id", installation_id.as_str()),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
    let token = json(answer).await["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();

    assert_eq!(
        me(&app, "notes", bearer(&token)).await,
        json!({"user_id": null, "email": null,
               "organization_id": installed["organization_id"],
               "installation_id": installation_id})
    );
    assert!(installed["organization_id"].is_string(), "{installed}");

    // Another app's host does not take it.
    published_app(&app, "dev@other-visitor.test", "ledger", &upstream.url()).await;
    assert_eq!(me(&app, "ledger", bearer(&token)).await, anonymous());
}

/// The `Set-Cookie` of `name` in `answer`.
fn set_cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The `name=value` pair of a `Set-Cookie`.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

fn location(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a redirect")
        .to_owned()
}

/// `GET path` on `slug`'s host with `cookies`.
async fn get_with(app: &TestApp, slug: &str, path: &str, cookies: &str) -> reqwest::Response {
    at_host(app, Method::GET, &host_of(slug), path)
        .header(COOKIE, cookies)
        .send()
        .await
        .expect("sent")
}

/// Starts the gateway's sign-in on `slug`'s host: the authorization
/// request's path and query on the platform, and the sign-in cookie.
async fn start_sign_in(app: &TestApp, slug: &str, next: &str) -> (String, String) {
    let path = format!("/_landlord/sign-in?next={}", urlencode(next));
    let answer = get_at(app, &host_of(slug), &path).await;
    assert_eq!(answer.status(), 303);
    let to = location(&answer);
    let pending = set_cookie(&answer, "landlord_sign_in").expect("the sign-in cookie");
    let url = url::Url::parse(&to).expect("absolute");
    (
        format!("{}?{}", url.path(), url.query().unwrap_or_default()),
        pair(&pending),
    )
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn a_person_signs_in_on_the_apps_host_and_out_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let notes = published_app(&app, "dev@signin.test", "notes", &upstream.url()).await;
    published_app(&app, "dev@signin-ledger.test", "ledger", &upstream.url()).await;
    signed_in(&app, "ada@signin.test").await;
    let ada = app.user_id("ada@signin.test").await;
    let browser = person(&app, "ada@signin.test").await;

    // Sign-in on the app's host: off to the platform's authorization
    // endpoint, the app as the client, PKCE S256, the gateway's callback.
    let answer = get_at(
        &app,
        &host_of("notes"),
        "/_landlord/sign-in?next=%2Fnotes%2F7",
    )
    .await;
    assert_eq!(answer.status(), 303);
    let to = location(&answer);
    assert!(
        to.starts_with(&format!("{}/oauth/authorize?", app.config.public_url)),
        "{to}"
    );
    let asked = query_of(&to);
    assert_eq!(asked["client_id"], notes.client_id());
    assert_eq!(
        asked["redirect_uri"],
        "http://notes.apps.localhost/_landlord/callback"
    );
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["scope"], "email openid profile");
    assert!(asked["state"].len() >= 32, "{asked:?}");
    let pending = set_cookie(&answer, "landlord_sign_in").expect("the sign-in cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/_landlord", "Max-Age=600"] {
        assert!(pending.contains(attribute), "{pending}");
    }
    assert!(!pending.contains("Domain"), "host-only: {pending}");
    let pending = pair(&pending);
    let url = url::Url::parse(&to).expect("absolute");
    let authorize = format!("{}?{}", url.path(), url.query().unwrap_or_default());

    // The consent page on the platform; its form may send the person to
    // the app's host.
    let consent = browser.get(&authorize).await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("Sign in to App notes"),
        "{}",
        consent.body
    );
    let csp = consent.csp.clone().expect("a CSP");
    assert!(
        csp.contains("form-action 'self' http://notes.apps.localhost"),
        "{csp}"
    );
    let mut form: Vec<(String, String)> = hidden_fields(&consent);
    form.push(("decision".into(), "allow".into()));
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let allowed = browser.post("/oauth/consent", &form).await;
    assert_eq!(allowed.status, 303, "{}", allowed.body);
    let back = allowed.location.expect("back to the app");
    assert!(
        back.starts_with("http://notes.apps.localhost/_landlord/callback?"),
        "{back}"
    );
    let callback = {
        let url = url::Url::parse(&back).expect("absolute");
        format!("{}?{}", url.path(), url.query().unwrap_or_default())
    };

    // The callback without the sign-in cookie, or with another state: no.
    let refused = get_at(&app, &host_of("notes"), &callback).await;
    assert_eq!(refused.status(), 400);
    let forged = callback.replace("state=", "state=x");
    assert_eq!(
        get_with(&app, "notes", &forged, &pending).await.status(),
        400
    );

    // The callback: the code exchanged, the session cookie set, back to
    // where the person was going.
    let landed = get_with(&app, "notes", &callback, &pending).await;
    assert_eq!(landed.status(), 303);
    assert_eq!(location(&landed), "/notes/7");
    let session = set_cookie(&landed, "landlord_visitor").expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=900"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(
        !session.contains("Domain") && !session.contains("Secure"),
        "{session}"
    );
    let cleared = set_cookie(&landed, "landlord_sign_in").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let session = pair(&session);
    assert!(!session.contains("lla_"), "sealed: {session}");
    // Reloading the callback (its sign-in cookie gone): nothing to finish.
    assert_eq!(
        get_at(&app, &host_of("notes"), &callback).await.status(),
        400
    );

    // Who the gateway takes the person for.
    let seen = me(&app, "notes", Some(("cookie", session.clone()))).await;
    assert_eq!(seen["user_id"], ada.as_str());
    assert_eq!(seen["email"], "ada@signin.test");
    assert!(seen["organization_id"].is_string(), "{seen}");
    // The cookie is this app's: another app's host takes no one for it.
    assert_eq!(
        me(&app, "ledger", Some(("cookie", session.clone()))).await,
        anonymous()
    );

    // The gateway's cookies never reach the upstream; the app's own do.
    let answer = get_with(
        &app,
        "notes",
        "/page",
        &format!("theirs=1; {session}; {pending}; also=2"),
    )
    .await;
    assert_eq!(answer.status(), 200);
    let received = upstream.received();
    let last = received.last().expect("the upstream got it");
    assert_eq!(last.uri, "/page");
    let cookies: Vec<&str> = last
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(cookies, vec!["theirs=1; also=2"]);
    assert!(received.iter().all(|r| !r.uri.starts_with("/_landlord")));

    // The authorization endpoint takes the gateway's callback on the app's
    // own subdomain only, in that exact form.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    for wrong in [
        "http://ledger.apps.localhost/_landlord/callback",
        "http://notes.apps.localhost/_landlord/callback?x=1",
        "http://notes.apps.localhost/_landlord/callbackx",
        "http://notes.apps.localhost.evil.example/_landlord/callback",
        "ftp://notes.apps.localhost/_landlord/callback",
    ] {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", notes.client_id())
            .append_pair("redirect_uri", wrong)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid")
            .append_pair("state", "s")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        let page = browser
            .get(&format!("/oauth/authorize?{}", query.finish()))
            .await;
        assert_ne!(page.status, StatusCode::SEE_OTHER, "{wrong}");
        assert!(
            page.body.contains("not one the app registered"),
            "{wrong}: {}",
            page.body
        );
    }

    // Signing out: the cookie cleared and its token revoked at once (the
    // old cookie identifies no one any more).
    let out = get_with(&app, "notes", "/_landlord/sign-out", &session).await;
    assert_eq!(out.status(), 303);
    assert_eq!(location(&out), "/");
    let cleared = set_cookie(&out, "landlord_visitor").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(
        me(&app, "notes", Some(("cookie", session.clone()))).await,
        anonymous()
    );

    // A second sign-in (consent remembered: straight back), denied
    // elsewhere: a person who says no lands back on the app, signed out.
    let (authorize, pending) = start_sign_in(&app, "notes", "//evil.example/").await;
    let again = browser.get(&authorize).await;
    assert_eq!(again.status, 303, "remembered: {}", again.body);
    let back = again.location.expect("back");
    let callback = {
        let url = url::Url::parse(&back).expect("absolute");
        format!("{}?{}", url.path(), url.query().unwrap_or_default())
    };
    let landed = get_with(&app, "notes", &callback, &pending).await;
    assert_eq!(landed.status(), 303);
    assert_eq!(location(&landed), "/", "never to another site");
    let session = pair(&set_cookie(&landed, "landlord_visitor").expect("a session"));
    assert_eq!(
        me(&app, "notes", Some(("cookie", session.clone()))).await["user_id"],
        ada.as_str()
    );
    // The code replayed (with the sign-in cookie kept aside): refused, and
    // what it issued is revoked (the gateway believes a token it resolved
    // for a few seconds more).
    assert_eq!(
        get_with(&app, "notes", &callback, &pending).await.status(),
        400
    );
    eventually(
        "the replayed code's session to end",
        Duration::from_secs(15),
        async || {
            (me(&app, "notes", Some(("cookie", session.clone()))).await == anonymous())
                .then_some(())
        },
    )
    .await;

    let (authorize, pending_denied) = start_sign_in(&app, "notes", "/after").await;
    let denied_state = query_of(&format!("http://x{authorize}"))["state"].clone();
    let denied = get_with(
        &app,
        "notes",
        &format!("/_landlord/callback?error=access_denied&state={denied_state}"),
        &pending_denied,
    )
    .await;
    assert_eq!(denied.status(), 303);
    assert_eq!(location(&denied), "/after");
    assert!(set_cookie(&denied, "landlord_visitor").is_none());
}
