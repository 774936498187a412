//! A person opens a published app on its own subdomain in a real browser
//! (Chromium maps `*.apps.localhost` to the test server), signs in to it
//! through the gateway (`/_landlord/sign-in`, the consent page on the
//! platform, back on the app's host) and the app's page shows them as
//! themselves; signing out makes them a stranger again. The session cookie
//! is out of the page's scripts' reach.
//! Screenshots in the light and the dark colour scheme.

use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;

use crate::support::accounts::{signed_in, PASSWORD};
use crate::support::browser::{Browser, ColorScheme, Viewport};
use crate::support::gateway::{allow_loopback_upstreams, published_app, Upstream};
use crate::support::{Backend, TestApp};

const TEST: &str =
    "gateway_browser::a_signed_in_person_reaches_an_app_on_its_subdomain_as_themselves";

/// The app's own page: what the gateway told it (the identity header, when
/// the gateway sets it) and who `/_landlord/me` says the visitor is.
async fn notes_page(headers: HeaderMap) -> Html<String> {
    let header = headers
        .get("x-landlord-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Notes</title>\
         <style>body{{font-family:sans-serif;margin:3rem}}@media(prefers-color-scheme:dark)\
         {{body{{background:#111;color:#eee}}a{{color:#9cf}}}}</style></head><body>\
         <h1>Notes</h1><p id=\"header\">Gateway header: {header}</p>\
         <p id=\"me\">Asking the gateway…</p>\
         <p><a href=\"/_landlord/sign-in?next=/\">Sign in with Landlord</a> · \
         <a href=\"/_landlord/sign-out\">Sign out</a></p>\
         <script>fetch('/_landlord/me').then(r => r.json()).then(me => {{\
           document.getElementById('me').textContent = me.user_id\
             ? 'Signed in as ' + me.email + ' (' + me.user_id + ')'\
             : 'Not signed in';\
         }});</script></body></html>"
    ))
}

/// A free port on the loopback address (the server's public URL must name
/// it before the server starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_person_reaches_an_app_on_its_subdomain_as_themselves() {
    let Some(browser) = Browser::start_with_args(
        TEST,
        Viewport::Desktop,
        ColorScheme::Light,
        &["--host-resolver-rules=MAP *.apps.localhost 127.0.0.1"],
    )
    .await
    else {
        return;
    };
    let port = free_port();
    let app = TestApp::spawn_with(Backend::Sqlite, |settings| {
        allow_loopback_upstreams(settings);
        settings.core.listen = format!("127.0.0.1:{port}");
        settings.core.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let upstream = Upstream::start_with(axum::Router::new().route("/", get(notes_page))).await;
    published_app(&app, "dev@gateway-browser.test", "notes", &upstream.url()).await;
    signed_in(&app, "ada@gateway-browser.test").await;
    let ada = app.user_id("ada@gateway-browser.test").await;

    // Ada is signed in to Landlord.
    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", "ada@gateway-browser.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while browser.current_path().await == "/sign-in" {
        assert!(std::time::Instant::now() < deadline, "signed in");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The app on its subdomain: a stranger to it so far.
    let notes = format!("http://notes.apps.localhost:{port}/");
    browser.goto_url(&notes).await;
    browser.wait_for_text("Not signed in").await;
    browser.wait_for_text("Gateway header: none").await;
    assert_eq!(
        browser.current_url().await.host_str(),
        Some("notes.apps.localhost")
    );
    browser.screenshot_themes("app-signed-out").await;

    // Signing in to the app: the consent page on the platform.
    browser.click_link("Sign in with Landlord").await;
    browser.wait_for_text("Sign in to App notes").await;
    assert_eq!(browser.current_path().await, "/oauth/authorize");
    browser.screenshot_themes("consent").await;

    // Allowed: back on the app's page, as themselves.
    browser.click_button("Allow").await;
    browser
        .wait_for_text(&format!("Signed in as ada@gateway-browser.test ({ada})"))
        .await;
    // The app's server heard who it is from the gateway, in a signed header.
    browser
        .wait_for_text(&format!("Gateway header: {ada}"))
        .await;
    let url = browser.current_url().await;
    assert_eq!(
        (url.host_str(), url.port(), url.path()),
        (Some("notes.apps.localhost"), Some(port), "/")
    );
    // The session cookie is the gateway's: the page's scripts cannot read it.
    let cookies = browser.script("return document.cookie;", vec![]).await;
    assert!(
        !cookies
            .as_str()
            .unwrap_or_default()
            .contains("landlord_visitor"),
        "{cookies}"
    );
    browser.screenshot_themes("app-signed-in").await;

    // Signing out of the app: a stranger again.
    browser.click_link("Sign out").await;
    browser.wait_for_text("Not signed in").await;
    browser.wait_for_text("Gateway header: none").await;
    browser.screenshot_themes("app-signed-out-again").await;
}
