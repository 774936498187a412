//! The console in a real browser, issue 12's journey: sign up, the
//! verification mail's link, sign in, an API key created on its page (the
//! secret once) and used over the API, its usage on the overview, sign out,
//! forgot and reset password, another organization's user refused; then
//! the owner invites a member who accepts in a second browser, the member
//! is refused billing, the owner changes the plan and pays the open invoice
//! through the Stripe stand-in; an operator replays a dead-lettered
//! webhook event and resolves the duplicate payment it reveals.
//!
//! SQLite only: these pages store nothing of their own (they call the same
//! feature functions as the API, whose storage the API tests cover on both
//! backends), so PostgreSQL would add a browser run and no coverage.
//!
//! Every page visited is saved in the light and the dark scheme (see
//! `support::browser` for where), sign-in and the overview also 375 px wide.

use std::time::Duration;

use crate::support::accounts::{token_of, PASSWORD};
use crate::support::app::{json as body_json, smtp_to};
use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
use crate::support::eventually::eventually;
use crate::support::payments::{bill_october, paystack_event, post_paystack, Billed};
use crate::support::providers::ProviderStandIn;
use crate::support::smtp::ReceivedMail;
use crate::support::smtp::SmtpServer;
use crate::support::Backend;
use crate::support::TestApp;

const TEST: &str = "console_journey::a_team_signs_up_uses_a_key_pays_and_an_operator_replays";

/// The path and query of the mail's `/{page}?token=…` link, to open on the
/// test server (mails link to `app_url`, a host the browser cannot reach).
fn link_path(mail: &ReceivedMail, page: &str) -> String {
    let text = mail.decoded();
    let marker = format!("https://app.landlord.test/{page}?token=");
    assert!(text.contains(&marker), "no {marker} link in:\n{text}");
    let token = mail.token().expect("a token in the mail");
    format!("/{page}?token={token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_signs_up_uses_a_key_pays_and_an_operator_replays() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    // Payments at the providers' stand-ins; a job dead-letters after two
    // attempts (the operator's part).
    let smtp = SmtpServer::start().await;
    let stand_in = ProviderStandIn::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        smtp_to(c, port);
        stand_in.configure(c);
        c.jobs_max_attempts = 2;
    })
    .await;
    let mut b = Billed {
        app,
        smtp,
        stand_in,
        owner: String::new(),
        cycle_id: String::new(),
        organization_id: String::new(),
    };
    let (app, smtp) = (&b.app, &b.smtp);
    let email = "ada@journey.test";

    // `/` leads a stranger to sign in, and from there to sign up.
    browser.goto(app, "/").await;
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
    // (Both errors showed before: wait for the new page, without one.)
    eventually(
        "the sign-up page without the email's error",
        PAGE_TIMEOUT,
        async || {
            let text = browser.page_text().await;
            (!text.contains("Is not a valid email address.")).then_some(())
        },
    )
    .await;
    browser
        .wait_for_text("Must be at least 8 characters long.")
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
    browser.wait_for_text("0 of 1,000 included").await;
    browser.screenshot_themes("overview").await;

    // The verification mail's link verifies, once.
    let mail = smtp.wait_for_subject(email, "Confirm your email").await;
    let verify = link_path(&mail, "verify-email");
    browser
        .visit(app, &verify, &format!("{email} is verified"), "verified")
        .await;
    browser
        .visit(
            app,
            &verify,
            "This verification link has already been used.",
            "verify-used",
        )
        .await;

    // Sign out; the overview then sends the browser to sign in.
    browser.goto(app, &overview).await;
    browser.wait_for_text("Requests this month").await;
    browser.sign_out().await;
    browser.wait_for_path("/sign-in").await;
    browser.goto(app, &overview).await;
    browser.wait_for_path("/sign-in").await;

    // Sign in again: the overview, with its name, plan and requests.
    browser.fill("Email", email).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.wait_for_path(&overview).await;
    browser.wait_for_text("Acme Journeys").await;
    browser.wait_for_text("Plan free").await;
    browser.wait_for_text("0 of 1,000 included").await;

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
    // The form redirected to the list (a reload cannot create another).
    assert_eq!(browser.current_path().await, keys_path(&overview));
    let curl = browser
        .script("return document.getElementById('curl').value;", vec![])
        .await;
    let curl = curl.as_str().expect("the request in its field").to_owned();
    assert!(
        curl.contains(&secret) && curl.contains("/api/v1/keys/verify"),
        "{curl}"
    );
    browser.screenshot_themes("key-created").await;
    // Reloaded, the keys page lists the key without its secret.
    browser.reload().await;
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
    browser.reload_until("3 of 1,000 included").await;
    browser.wait_for_text("Active API keys").await;
    browser.screenshot_themes("overview-with-usage").await;

    // 375 px wide: sign-in and the overview.
    browser.set_viewport(Viewport::Phone).await;
    browser.reload().await;
    browser.wait_for_text("3 of 1,000 included").await;
    let width = browser.script("return window.innerWidth;", vec![]).await;
    assert_eq!(width.as_u64(), Some(375), "the phone's layout viewport");
    browser.screenshot("overview-phone").await;

    // Forgot password → the mail → the reset page → sign in with it.
    browser.sign_out().await;
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
        .visit(app, &reset, "Choose a new password", "reset-password")
        .await;
    let new_password = "a brand new password";
    browser.fill("New password", new_password).await;
    browser.click_button("Set the password").await;
    browser.wait_for_text("Your password is changed").await;
    browser.screenshot_themes("reset-password-done").await;
    browser.goto(app, "/sign-in").await;
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
    browser.wait_for_text("3 of 1,000 included").await;

    // Another organization's person opening this overview: 404.
    let Some(other) = Browser::start(TEST).await else {
        return;
    };
    other.goto(app, "/sign-up").await;
    other.fill("Organization name", "Bob Builders").await;
    other.fill("Email", "bob@journey.test").await;
    other.fill("Password", PASSWORD).await;
    other.click_button("Sign up").await;
    other.wait_for_text("Bob Builders").await;
    other.wait_for_text("Requests this month").await;
    assert_ne!(other.current_path().await, overview);
    other
        .visit(app, &overview, "Page not found", "foreign-overview")
        .await;
    other.assert_no_text("Acme Journeys").await;

    other.close().await;

    // Months pass: October closed with an open invoice of 60.00 USD.
    let organization_id = overview.trim_start_matches("/o/").to_owned();
    bill_october(app, &organization_id).await;
    let (cycle_id,): (String,) =
        sqlx::query_as("SELECT id FROM billing_cycles WHERE organization_id = $1")
            .bind(&organization_id)
            .fetch_one(app.db.pool())
            .await
            .expect("October's cycle");
    let login = app.login(email, new_password).await;
    assert_eq!(login.status(), 200, "the owner signs in over the API");
    let owner_token = token_of(&body_json(login).await["data"], "access_token");
    b.organization_id = organization_id;
    b.cycle_id = cycle_id;
    b.owner = owner_token;
    let (app, smtp) = (&b.app, &b.smtp);

    // The owner invites Carol on the team page.
    let team = format!("{overview}/team");
    browser
        .visit(app, &team, "always keeps at least one owner", "team")
        .await;
    browser.fill("Email", "carol@journey.test").await;
    browser.choose("Role", "member").await;
    browser.click_button("Send the invitation").await;
    browser.wait_for_text("Invitation sent").await;
    browser.screenshot_themes("team-invited").await;

    // Carol accepts the mail's link in a second browser, creating her
    // account in place.
    let mail = smtp
        .wait_for_subject("carol@journey.test", "invited you to")
        .await;
    let Some(carol) = Browser::start(TEST).await else {
        return;
    };
    carol
        .visit(
            app,
            &link_path(&mail, "accept-invitation"),
            "Create your account to join",
            "accept-invitation",
        )
        .await;
    carol.fill("Your name", "Carol").await;
    carol.fill("Password", PASSWORD).await;
    carol.click_button("Create the account and join").await;
    carol.wait_for_text("Acme Journeys").await;
    carol.wait_for_text("Requests this month").await;
    assert_eq!(carol.current_path().await, overview);
    // A member has no Billing link and is refused the page.
    carol.assert_no_text("Billing").await;
    carol
        .visit(
            app,
            &format!("{overview}/billing"),
            "Not allowed",
            "member-refused-billing",
        )
        .await;
    carol.assert_no_text("60.00 USD").await;
    carol.close().await;
    browser
        .visit(app, &team, "carol@journey.test", "team-with-member")
        .await;

    // The owner upgrades: the effect shown, then applied.
    let billing = format!("{overview}/billing");
    browser
        .visit(app, &billing, "Plan: starter", "billing")
        .await;
    browser.wait_for_text("60.00 USD").await;
    browser
        .choose("New plan", "pro — 50.00 USD a month, unlimited requests")
        .await;
    browser.click_button("Review the change").await;
    browser.wait_for_text("This is an upgrade").await;
    browser.screenshot_themes("change-plan").await;
    browser.click_button("Upgrade now").await;
    browser.wait_for_text("Your plan is now pro").await;
    browser.screenshot_themes("plan-changed").await;

    // Meanwhile a Paystack payment's webhook died while Paystack's API was
    // down (two attempts): the operator's work, below.
    let checkout = body_json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"]
        .as_str()
        .expect("a Paystack reference")
        .to_owned();
    b.stand_in.state.lock().expect("the stand-in").verify_fails = true;
    let mut event: serde_json::Value =
        serde_json::from_slice(&paystack_event(&reference, 77)).expect("an event");
    event["data"]["metadata"] = serde_json::json!({"billing_cycle_id": b.cycle_id});
    let body = serde_json::to_vec(&event).expect("its body");
    assert_eq!(post_paystack(&b, &body).await.status(), 200);
    eventually(
        "the Paystack event to be dead-lettered",
        Duration::from_secs(15),
        async || {
            (b.count("SELECT COUNT(*) FROM provider_webhook_events WHERE status = 'dead'")
                .await
                == 1)
                .then_some(())
        },
    )
    .await;
    assert_eq!(b.cycle_status().await, "pending", "still open");

    // The owner pays the invoice through Stripe: off to its checkout...
    browser
        .visit(
            app,
            &format!("{billing}/invoices/{}", b.cycle_id),
            "Pay 60.00 USD",
            "invoice",
        )
        .await;
    browser.click_button("Continue to checkout").await;
    eventually(
        "the browser to leave for Stripe's checkout",
        PAGE_TIMEOUT,
        async || {
            let url = browser.current_url().await;
            (url.host_str() == Some("checkout.stripe.test")).then_some(())
        },
    )
    .await;
    // ...back before the provider's webhook: waiting; after it: paid.
    let result = format!("/billing?paid={}", b.cycle_id);
    browser
        .visit(
            app,
            &result,
            "waiting for the provider's confirmation",
            "payment-waiting",
        )
        .await;
    assert_eq!(
        b.post_signed_stripe("evt_journey_1", 6000).await.status(),
        200
    );
    b.wait_for_cycle("paid").await;
    browser
        .visit(app, &result, "this invoice is paid", "receipt")
        .await;
    browser.sign_out().await;
    browser.wait_for_path("/sign-in").await;

    // An operator replays the dead Paystack event once Paystack is back:
    // processed, and the second payment shows as a discrepancy to refund.
    app.register("ops@journey.test", "Operations").await;
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'ops@journey.test'")
        .execute(app.db.pool())
        .await
        .expect("made an operator");
    browser.fill("Email", "ops@journey.test").await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign in").await;
    browser.element("details.account").await;
    browser.open_account_menu().await;
    browser.click_link("Operator console").await;
    browser.wait_for_path("/operator").await;
    browser.wait_for_text("MRR by month").await;
    browser.screenshot_themes("operator-figures").await;
    browser.click_link("Webhook events").await;
    browser.wait_for_path("/operator/webhooks").await;
    browser.wait_for_text("answered 500").await;
    browser.screenshot_themes("operator-webhook-dead").await;
    b.stand_in.state.lock().expect("the stand-in").verify_fails = false;
    browser
        .element("form[action$='/replay'] button")
        .await
        .click()
        .await
        .expect("the replay button clicked");
    browser.wait_for_text("is queued again").await;
    eventually(
        "the replayed event to be processed",
        Duration::from_secs(15),
        async || {
            (b.count("SELECT COUNT(*) FROM provider_webhook_events WHERE status = 'processed'")
                .await
                == 2)
                .then_some(())
        },
    )
    .await;
    browser.choose("Status", "processed").await;
    browser.click_button("Show").await;
    browser.element("span.status.processed").await;
    browser.assert_no_text("answered 500").await;
    browser
        .screenshot_themes("operator-webhook-processed")
        .await;
    browser.click_link("Discrepancies").await;
    browser.wait_for_text("duplicate payment").await;
    browser.screenshot_themes("operator-discrepancy").await;
    browser.fill("note", "Refunded at Paystack").await;
    browser.click_button("Resolve").await;
    browser.wait_for_text("is resolved").await;
    browser
        .screenshot_themes("operator-discrepancy-resolved")
        .await;
    browser.close().await;
}

/// The keys page of the organization whose overview is `overview`.
fn keys_path(overview: &str) -> String {
    format!("{overview}/keys")
}
