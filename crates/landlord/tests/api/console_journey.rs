//! The console in a real browser: a person's first journey over the pages
//! that exist (sign up, the verification mail's link, sign in, the
//! overview and its usage, sign out, forgot and reset password), and a
//! second organization's user refused the first one's overview.
//!
//! SQLite only: these pages store nothing of their own (they call the same
//! feature functions as the API, whose storage the API tests cover on both
//! backends), so PostgreSQL would add a browser run and no coverage.
//!
//! Every page visited is saved in the light and the dark scheme (see
//! `support::browser` for where), sign-in and the overview also 375 px wide.

use std::time::{Duration, Instant};

use crate::support::accounts::{app_with_smtp, PASSWORD};
use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
use crate::support::smtp::ReceivedMail;
use crate::support::Backend;

const TEST: &str = "console_journey::a_person_signs_up_verifies_uses_a_key_and_resets_the_password";

/// The path and query of the mail's `/{page}?token=…` link, to open on the
/// test server (mails link to `app_url`, a host the browser cannot reach).
fn link_path(mail: &ReceivedMail, page: &str) -> String {
    let text = mail.decoded();
    let marker = format!("https://app.landlord.test/{page}?token=");
    assert!(text.contains(&marker), "no {marker} link in:\n{text}");
    let token = mail.token().expect("a token in the mail");
    format!("/{page}?token={token}")
}

/// Reloads the page until it shows `text` (a figure written by a
/// background flush, not by the page itself).
async fn reload_until(browser: &Browser, text: &str) {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        if browser.page_text().await.contains(text) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {PAGE_TIMEOUT:?} reloading for {text:?}; the page shows:\n{}",
            browser.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.reload().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_up_verifies_uses_a_key_and_resets_the_password() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let (app, smtp) = app_with_smtp(Backend::Sqlite).await;
    let email = "ada@journey.test";

    // `/` leads a stranger to sign in, and from there to sign up.
    browser.goto(&app, "/").await;
    browser.wait_for_path("/sign-in").await;
    browser.wait_for_text("New here?").await;
    browser.screenshot_themes("sign-in").await;
    browser.click_link("Create an organization").await;
    browser.wait_for_path("/sign-up").await;
    browser.wait_for_text("Create your organization").await;
    browser.screenshot_themes("sign-up").await;

    // A bad email and a short password: each error beside its field, at
    // once; what was typed kept, the password not sent back.
    browser.fill("Organization name", "Acme Journeys").await;
    browser.fill("Your name", "Ada").await;
    browser.fill("Email", "not-an-email").await;
    browser.fill("Password", "short").await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Is not a valid email address.").await;
    assert_eq!(
        browser.text_of("#email-error").await,
        "Is not a valid email address."
    );
    assert_eq!(
        browser.text_of("#password-error").await,
        "Must be at least 8 characters long."
    );
    let kept = browser
        .script(
            "return [document.getElementById('organization_name').value, \
                     document.getElementById('name').value, \
                     document.getElementById('email').value, \
                     document.getElementById('password').value];",
            vec![],
        )
        .await;
    assert_eq!(
        kept,
        serde_json::json!(["Acme Journeys", "Ada", "not-an-email", ""]),
        "typed values kept, the password not sent back"
    );
    browser.screenshot_themes("sign-up-errors").await;
    // The email mended, the password still short: only its error remains.
    browser.fill("Email", email).await;
    browser.fill("Password", "short").await;
    browser.click_button("Sign up").await;
    browser
        .wait_for_text("Must be at least 8 characters long.")
        .await;
    browser
        .assert_no_text("Is not a valid email address.")
        .await;
    let kept = browser
        .script(
            "return document.getElementById('organization_name').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, "Acme Journeys", "the organization name kept");

    // Properly: signed in, on the organization's overview.
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Requests this month").await;
    let overview = browser.current_path().await;
    assert!(overview.starts_with("/o/"), "{overview}");
    browser.wait_for_text("Acme Journeys").await;
    browser.wait_for_text("0 of 1000 included").await;
    browser.screenshot_themes("overview").await;

    // The verification mail's link verifies, once.
    let mail = smtp.wait_for_subject(email, "Confirm your email").await;
    let verify = link_path(&mail, "verify-email");
    browser
        .visit(&app, &verify, &format!("{email} is verified"), "verified")
        .await;
    browser
        .visit(
            &app,
            &verify,
            "This verification link has already been used.",
            "verify-used",
        )
        .await;

    // Sign out; the overview then sends the browser to sign in.
    browser.goto(&app, &overview).await;
    browser.wait_for_text("Requests this month").await;
    browser.click_button("Sign out").await;
    browser.wait_for_path("/sign-in").await;
    browser.goto(&app, &overview).await;
    browser.wait_for_path("/sign-in").await;

    // Sign in again: the overview, with its name, plan and requests.
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(&overview).await;
    browser.wait_for_text("Acme Journeys").await;
    browser.wait_for_text("Plan free").await;
    browser.wait_for_text("0 of 1000 included").await;

    // A key made on the keys page: its secret shown this once.
    browser.click_link("API keys").await;
    browser.wait_for_text("No API keys yet").await;
    browser.screenshot_themes("keys-empty").await;
    browser.click_link("create one").await;
    browser.wait_for_text("Create an API key").await;
    browser.screenshot_themes("key-new").await;
    browser.fill("Name", "journey").await;
    browser.click_button("Create the key").await;
    browser.wait_for_text("Your new API key").await;
    let secret = browser
        .script("return document.getElementById('secret').value;", vec![])
        .await;
    let secret = secret.as_str().expect("the secret in its field").to_owned();
    assert!(secret.starts_with("sk_"), "{secret}");
    browser.screenshot_themes("key-created").await;
    // Opened again, the keys page lists the key without its secret.
    browser.click_link("Done: back to the keys").await;
    browser.wait_for_text("journey").await;
    let listed = browser.page_text().await;
    assert!(!listed.contains(&secret), "the secret is shown once");
    browser.reload().await;
    browser.wait_for_text("journey").await;
    assert!(!browser.page_text().await.contains(&secret));
    let html = browser.client().source().await.expect("the page source");
    assert!(!html.contains(&secret), "nor hidden in the page");
    browser.screenshot_themes("keys").await;
    browser.click_link("Overview").await;
    browser.wait_for_text("Requests this month").await;

    // The key used for three metered requests: the overview counts them
    // once the usage writer has flushed.
    let secret = secret.as_str();
    for _ in 0..3 {
        let read = app
            .with_key(
                reqwest::Method::GET,
                "/api/v1/messages/00000000-0000-7000-8000-000000000000",
                secret,
            )
            .await;
        assert_eq!(read.status(), 404, "a metered read of nothing");
    }
    browser.reload().await;
    reload_until(&browser, "3 of 1000 included").await;
    browser.wait_for_text("Active API keys").await;
    browser.screenshot_themes("overview-with-usage").await;

    // 375 px wide: sign-in and the overview.
    browser.set_viewport(Viewport::Phone).await;
    browser.reload().await;
    browser.wait_for_text("3 of 1000 included").await;
    let width = browser.script("return window.innerWidth;", vec![]).await;
    assert_eq!(width.as_u64(), Some(375), "the phone's layout viewport");
    browser.screenshot("overview-phone").await;

    // Forgot password → the mail → the reset page → sign in with it.
    browser.click_button("Sign out").await;
    browser.wait_for_path("/sign-in").await;
    browser.wait_for_text("Forgot your password?").await;
    browser.screenshot("sign-in-phone").await;
    browser.set_viewport(Viewport::Desktop).await;
    browser.click_link("Forgot your password?").await;
    browser.wait_for_path("/forgot-password").await;
    browser.wait_for_text("We will mail you a link").await;
    browser.screenshot_themes("forgot-password").await;
    browser.fill("Email", email).await;
    browser.click_button("Send the link").await;
    browser
        .wait_for_text("a password reset mail is on its way")
        .await;
    browser.screenshot_themes("forgot-password-sent").await;
    let mail = smtp.wait_for_subject(email, "Reset your password").await;
    let reset = link_path(&mail, "reset-password");
    browser
        .visit(&app, &reset, "Choose a new password", "reset-password")
        .await;
    let new_password = "a brand new password";
    browser.fill("New password", new_password).await;
    browser.click_button("Set the password").await;
    browser.wait_for_text("Your password is changed").await;
    browser.screenshot_themes("reset-password-done").await;
    browser.goto(&app, "/sign-in").await;
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path("/sign-in").await;
    browser
        .wait_for_text("Email or password is incorrect.")
        .await;
    browser.screenshot_themes("sign-in-old-password").await;
    browser.fill("Password", new_password).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(&overview).await;
    browser.wait_for_text("3 of 1000 included").await;

    // Another organization's person opening this overview: 404.
    let Some(other) = Browser::start(TEST).await else {
        return;
    };
    other.goto(&app, "/sign-up").await;
    other.fill("Organization name", "Bob Builders").await;
    other.fill("Email", "bob@journey.test").await;
    other.fill("Password", PASSWORD).await;
    other.click_button("Sign up").await;
    other.wait_for_text("Bob Builders").await;
    other.wait_for_text("Requests this month").await;
    assert_ne!(other.current_path().await, overview);
    other
        .visit(&app, &overview, "Page not found", "foreign-overview")
        .await;
    other.assert_no_text("Acme Journeys").await;

    other.close().await;
    browser.close().await;
}
