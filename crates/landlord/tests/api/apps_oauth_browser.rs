//! A person signs in to an app with Landlord in a real browser, on a
//! phone: the authorization URL leads to the sign-in page, back to the
//! consent page, and Allow lands on the app's callback with a code (the
//! consent page's policy lets its form's redirect reach the app); the app
//! is then in the account's authorized apps, revoked there, and the next
//! sign-in asks again.
//! Screenshots in the light and the dark colour scheme.

use axum::extract::RawQuery;
use axum::routing::get;
use serde_json::json;

use crate::support::accounts::PASSWORD;
use crate::support::apps::publisher;
use crate::support::browser::{Browser, Viewport};
use crate::support::{Backend, TestApp};

const TEST: &str = "apps_oauth_browser::a_person_allows_an_app_on_a_phone";

/// The app's own server: its callback says what it received.
async fn callback_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let port = listener.local_addr().expect("its address").port();
    let router = axum::Router::new().route(
        "/callback",
        get(|RawQuery(query): RawQuery| async move {
            let query = query.unwrap_or_default();
            let code = url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "code")
                .map(|(_, code)| code.into_owned())
                .unwrap_or_default();
            let prefix = code.get(..4).unwrap_or("none").to_string();
            format!("Notes received a code starting with {prefix}")
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_allows_an_app_on_a_phone() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let port = callback_server().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let publisher = publisher(
        &app,
        "phone@oauth.test",
        json!({"redirect_uris": [redirect], "scopes": ["openid", "profile", "email", "organizations:read"]}),
    )
    .await;
    browser.set_viewport(Viewport::Phone).await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", publisher.client_id())
        .append_pair("redirect_uri", &redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email organizations:read")
        .append_pair("state", "phone")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let authorize = format!("/oauth/authorize?{}", query.finish());

    // Signed out: the sign-in page, then back to the request.
    browser.goto(&app, &authorize).await;
    browser.wait_for_path("/sign-in").await;
    browser.fill("Email", "phone@oauth.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path("/oauth/authorize").await;
    browser.wait_for_text("Sign in to Notes").await;
    browser
        .wait_for_text("see your email address and whether it is verified")
        .await;
    browser
        .wait_for_text("see the organization's name, plan and settings")
        .await;
    browser.assert_no_text("see your name").await;
    browser.screenshot_themes("consent").await;

    // Allow: the app's callback, with a code.
    browser.click_button("Allow").await;
    browser
        .wait_for_text("Notes received a code starting with llc_")
        .await;
    let url = browser.current_url().await;
    assert_eq!(url.port(), Some(port));
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "phone".into())), "{url}");

    // Signed in again later: the consent is remembered, and signing in
    // leads straight back to the app.
    browser.goto(&app, "/sign-in").await;
    browser.sign_out().await;
    browser.goto(&app, &authorize).await;
    browser.wait_for_path("/sign-in").await;
    browser.fill("Email", "phone@oauth.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser
        .wait_for_text("Notes received a code starting with llc_")
        .await;

    // The account's authorized apps list it; revoking it means the next
    // sign-in asks again.
    browser.goto(&app, "/account/apps").await;
    browser.wait_for_text("Notes").await;
    browser
        .wait_for_text("see the organization's name, plan and settings")
        .await;
    browser.screenshot_themes("authorized-apps").await;
    browser.click_button("Revoke Notes").await;
    browser.wait_for_text("Notes is revoked").await;
    browser.screenshot_themes("authorized-apps-revoked").await;
    browser.goto(&app, &authorize).await;
    browser.wait_for_text("Sign in to Notes").await;

    // An unknown redirect URI: a page, and the browser stays here.
    let wrong = authorize.replace("%2Fcallback", "%2Fcallback%2F");
    browser.goto(&app, &wrong).await;
    browser.wait_for_text("This sign-in cannot go on").await;
    assert_eq!(browser.current_url().await.port(), Some(app.address.port()));
    browser.screenshot_themes("refused-redirect-uri").await;
}
