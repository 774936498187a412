//! A newcomer's first hour in the console, in a real browser, from the
//! first page to a first sale: sign up → told to verify → verify from the
//! mail → the getting-started checklist → an API key (its secret once) →
//! the checklist's `curl` run by the test against this server with that
//! key → a teammate invited → a plan change → a webhook endpoint that a
//! local receiver hears from → the organization applies to sell without
//! a payout account → an operator approves it → a product → a second
//! person buys it, paying on the Stripe stand-in's hosted page.
//!
//! After every creation the page is reloaded and the test checks that
//! nothing was created twice and that no notice or secret shows again.
//! Every page is saved light and dark (see `support::browser` for where),
//! and the main ones also 375 px wide.
//!
//! The server is the default configuration with the payment providers'
//! stand-ins (a buyer needs one to pay); the store applies without naming
//! a payout account, as on an install with none. SQLite only: storage is
//! covered on both backends by each capability's own tests.

use crate::support::accounts::PASSWORD;
use crate::support::browser::{Browser, Viewport, PAGE_TIMEOUT};
use crate::support::marketplace::Market;
use crate::support::receiver::Receiver;
use crate::support::smtp::ReceivedMail;
use crate::support::{Backend, TestApp};

const TEST: &str = "console_first_hour::a_newcomers_first_hour_from_sign_up_to_a_first_sale";
const EMAIL: &str = "nadia@northwind.test";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// The path and query of the mail's `/{page}?token=…` link.
fn link_path(mail: &ReceivedMail, page: &str) -> String {
    let token = mail.token().expect("a token in the mail");
    assert!(mail.decoded().contains(&format!("/{page}?token=")));
    format!("/{page}?token={token}")
}

/// Reloads the page and checks `gone` is not said again.
async fn reload_says_nothing_again(browser: &Browser, gone: &str) {
    browser.reload().await;
    browser.assert_no_text(gone).await;
}

async fn count(app: &TestApp, sql: &str, org: &str) -> i64 {
    app.count(sql, &[org]).await
}

async fn click(browser: &Browser, selector: &str) {
    browser
        .element(selector)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {selector}: {e}"));
}

/// The text of the element `selector`, as the page holds it.
async fn text_content(browser: &Browser, selector: &str) -> String {
    let value = browser
        .script(
            "return document.querySelector(arguments[0]).textContent;",
            vec![selector.into()],
        )
        .await;
    value.as_str().unwrap_or_default().to_string()
}

async fn both_widths(browser: &Browser, name: &str) {
    browser.screenshot_themes(name).await;
    browser.set_viewport(Viewport::Phone).await;
    browser.screenshot_themes(&format!("{name}-phone")).await;
    browser.set_viewport(Viewport::Desktop).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomers_first_hour_from_sign_up_to_a_first_sale() {
    let Some(browser) = Browser::start(TEST).await else {
        return;
    };
    let port = free_port();
    let market = Market::start_with(Backend::Sqlite, |c| {
        c.listen = format!("127.0.0.1:{port}");
        c.public_url = format!("http://127.0.0.1:{port}");
        c.app_url = Some(format!("http://127.0.0.1:{port}"));
    })
    .await;
    let app = &market.app;

    // Sign up: the overview says to verify the address, and how to start.
    browser.goto(app, "/sign-up").await;
    browser.wait_for_text("Create your organization").await;
    browser.fill("Organization name", "Northwind").await;
    browser.fill("Your name", "Nadia").await;
    browser.fill("Email", EMAIL).await;
    browser.fill("Password", PASSWORD).await;
    browser.click_button("Sign up").await;
    browser.wait_for_text("Verify your email.").await;
    browser.wait_for_text("Get started").await;
    browser.wait_for_text("0 of 4 done").await;
    let overview = browser.current_path().await;
    let org = overview.trim_start_matches("/o/").to_string();
    both_widths(&browser, "01-overview-new").await;

    // The mail's link verifies; the notice is gone from the overview.
    let mail = market
        .smtp
        .wait_for_subject(EMAIL, "Confirm your email")
        .await;
    browser
        .visit(
            app,
            &link_path(&mail, "verify-email"),
            "is verified",
            "02-verified",
        )
        .await;
    browser.goto(app, &overview).await;
    browser.wait_for_text("Get started").await;
    browser.assert_no_text("Verify your email.").await;

    // An API key from the checklist: its secret once, on the keys page.
    browser.click_link("Create an API key").await;
    browser.wait_for_text("Create an API key").await;
    browser.fill("Name", "first key").await;
    browser.screenshot_themes("03-key-new").await;
    browser.click_button("Create the key").await;
    browser.wait_for_text("Your new API key").await;
    assert_eq!(browser.current_path().await, format!("{overview}/keys"));
    let secret = browser
        .script("return document.getElementById('secret').value;", vec![])
        .await;
    let secret = secret.as_str().expect("the secret").to_string();
    assert!(secret.starts_with("sk_"), "{secret}");
    both_widths(&browser, "04-key-created").await;
    reload_says_nothing_again(&browser, "Your new API key").await;
    browser.wait_for_text("first key").await;
    let html = browser.client().source().await.expect("the page source");
    assert!(!html.contains(&secret), "the secret is shown once");
    let keys = "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1";
    assert_eq!(count(app, keys, &org).await, 1, "a reload creates no key");
    browser.screenshot_themes("05-keys").await;

    // The checklist's first request, run as a person would paste it.
    browser.goto(app, &overview).await;
    browser.wait_for_text("1 of 4 done").await;
    let snippet = text_content(&browser, "#first-request").await;
    assert!(
        snippet.starts_with(&format!("curl -X POST http://127.0.0.1:{port}/")),
        "{snippet}"
    );
    let ran = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{snippet} --silent --show-error --fail-with-body"))
        .env("LANDLORD_KEY", &secret)
        .output()
        .expect("sh and curl run");
    let answer = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{answer} {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(answer.contains("\"data\""), "{answer}");
    market
        .smtp
        .wait_for_subject(EMAIL, "Hello from Landlord")
        .await;
    browser.reload_until("2 of 4 done").await;
    browser.screenshot_themes("06-overview-after-request").await;

    // A teammate, invited once.
    browser.click_link("Invite someone").await;
    browser.wait_for_text("Send the invitation").await;
    browser.fill("Email", "omar@northwind.test").await;
    browser.choose("Role", "member").await;
    browser.click_button("Send the invitation").await;
    browser.wait_for_text("Invitation sent").await;
    browser.screenshot_themes("07-team-invited").await;
    reload_says_nothing_again(&browser, "Invitation sent").await;
    let invitations = "SELECT COUNT(*) FROM invitations WHERE organization_id = $1";
    assert_eq!(count(app, invitations, &org).await, 1);
    market
        .smtp
        .wait_for_subject("omar@northwind.test", "invited you to")
        .await;

    // A plan: the comparison, the review, the upgrade — once.
    browser.goto(app, &format!("{overview}/billing")).await;
    browser.wait_for_text("Compare the plans").await;
    both_widths(&browser, "08-billing").await;
    let pro = browser
        .script(
            "return [...document.querySelectorAll('#plan option')].find(o => o.value === 'pro').textContent;",
            vec![],
        )
        .await;
    browser
        .choose("New plan", pro.as_str().expect("the pro plan offered"))
        .await;
    browser.click_button("Review the change").await;
    browser.wait_for_text("This is an upgrade").await;
    browser.screenshot_themes("09-change-plan").await;
    browser.click_button("Upgrade now").await;
    browser.wait_for_text("Your plan is now pro").await;
    browser.screenshot_themes("10-plan-changed").await;
    reload_says_nothing_again(&browser, "Your plan is now pro").await;
    let plan: String = sqlx::query_scalar("SELECT plan FROM organizations WHERE id = $1")
        .bind(&org)
        .fetch_one(app.db.pool())
        .await
        .expect("the plan");
    assert_eq!(plan, "pro");
    // Every step done: the checklist has gone.
    browser.goto(app, &overview).await;
    browser.wait_for_text("Requests this month").await;
    browser.assert_no_text("Get started").await;
    both_widths(&browser, "11-overview-done").await;

    // A webhook endpoint to a local receiver: its secret once, a test event.
    let receiver = Receiver::start("ok").await;
    browser.goto(app, &format!("{overview}/webhooks")).await;
    browser.wait_for_text("Add the endpoint").await;
    browser.fill("URL", &receiver.url("/hooks")).await;
    browser.click_button("Add the endpoint").await;
    browser.wait_for_text("The endpoint's signing secret").await;
    both_widths(&browser, "12-endpoint-created").await;
    reload_says_nothing_again(&browser, "The endpoint's signing secret").await;
    let endpoints = "SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1";
    assert_eq!(count(app, endpoints, &org).await, 1);
    browser.click_button("Send test event").await;
    receiver.wait_for("/hooks", 1).await;
    browser.screenshot_themes("13-endpoint-tested").await;

    // Apply to sell without a payout account: the page says payouts wait.
    browser.goto(app, &format!("{overview}/store")).await;
    browser
        .wait_for_text("A payout account is not needed to apply")
        .await;
    browser.fill("Store name", "Northwind Teas").await;
    browser.fill("Slug", "northwind-teas").await;
    browser.screenshot_themes("14-apply").await;
    browser.click_button("Apply to sell").await;
    browser.wait_for_text("Application sent").await;
    browser
        .wait_for_text("Payouts wait for a payout account")
        .await;
    both_widths(&browser, "15-store-pending").await;
    reload_says_nothing_again(&browser, "Application sent").await;
    let stores = "SELECT COUNT(*) FROM marketplace_vendors WHERE organization_id = $1";
    assert_eq!(count(app, stores, &org).await, 1);

    // An operator approves it, in a second browser.
    let Some(operator) = Browser::start(TEST).await else {
        return;
    };
    operator.goto(app, "/sign-in").await;
    operator.fill("Email", "operator@example.com").await;
    operator.fill("Password", PASSWORD).await;
    operator.click_button("Sign in").await;
    operator.wait_for_text("Requests this month").await;
    operator
        .visit(
            app,
            "/operator/marketplace?status=pending",
            "Northwind Teas",
            "16-operator-pending",
        )
        .await;
    operator.click_button("Approve Northwind Teas").await;
    operator.wait_for_text("is approved").await;
    operator.screenshot_themes("17-operator-approved").await;
    reload_says_nothing_again(&operator, "is approved").await;
    operator.close().await;

    // A product, created once.
    browser
        .goto(app, &format!("{overview}/store/products"))
        .await;
    browser.wait_for_text("Add the product").await;
    browser.fill("Title", "Jasmine Green Tea").await;
    browser.fill("Slug", "jasmine-green-tea").await;
    browser.fill("Price", "8.50").await;
    browser.fill("Currency", "USD").await;
    browser.fill("Stock", "40").await;
    browser.click_button("Add the product").await;
    browser.wait_for_text("Product created.").await;
    both_widths(&browser, "18-product-created").await;
    reload_says_nothing_again(&browser, "Product created.").await;
    let products = "SELECT COUNT(*) FROM marketplace_products WHERE vendor_id = $1";
    assert_eq!(count(app, products, &org).await, 1);

    // A second person signs up and buys it with Stripe.
    let Some(buyer) = Browser::start(TEST).await else {
        return;
    };
    buyer.goto(app, "/sign-up").await;
    buyer.fill("Organization name", "Bea's Kitchen").await;
    buyer.fill("Your name", "Bea").await;
    buyer.fill("Email", "bea@kitchen.test").await;
    buyer.fill("Password", PASSWORD).await;
    buyer.click_button("Sign up").await;
    buyer.wait_for_text("Get started").await;
    buyer.click_link("Marketplace").await;
    buyer.wait_for_text("Jasmine Green Tea").await;
    buyer.screenshot_themes("19-storefront").await;
    click(&buyer, "a[href^=\"/marketplace/products/\"]").await;
    buyer.wait_for_text("8.50 USD").await;
    buyer.fill("Quantity", "2").await;
    buyer.click_button("Add to cart").await;
    buyer.wait_for_text("Added to your cart.").await;
    reload_says_nothing_again(&buyer, "Added to your cart.").await;
    buyer.goto(app, "/marketplace/cart").await;
    buyer.wait_for_text("17.00 USD").await;
    buyer.fill("Name", "Bea Adeyemi").await;
    buyer.fill("Address", "3 Allen Avenue").await;
    buyer.fill("City", "Lagos").await;
    buyer.fill("Country (two letters, e.g. NG)", "NG").await;
    both_widths(&buyer, "20-cart").await;
    buyer.click_button("Pay 17.00 USD").await;
    let stand_in = url::Url::parse(&market.stand_in.url).expect("the stand-in's URL");
    crate::support::eventually::eventually(
        "the browser on the hosted checkout page",
        PAGE_TIMEOUT,
        async || {
            let at = buyer.current_url().await;
            (at.port() == stand_in.port() && at.path().starts_with("/checkout/pay/")).then_some(())
        },
    )
    .await;
    click(&buyer, "#pay").await;
    crate::support::eventually::eventually(
        "the browser back on the order page",
        PAGE_TIMEOUT,
        async || {
            let at = buyer.current_url().await;
            (at.port() == Some(port) && at.path().starts_with("/marketplace/orders/")).then_some(())
        },
    )
    .await;
    buyer.reload_until("Payment confirmed").await;
    both_widths(&buyer, "21-order-paid").await;
    buyer.close().await;

    // The store sees its sale.
    browser.goto(app, &format!("{overview}/store/orders")).await;
    browser.reload_until("Jasmine Green Tea").await;
    browser.screenshot_themes("22-store-orders").await;
    browser.close().await;
}
