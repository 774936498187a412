//! The console's billing pages over HTTP: who sees and changes what (the
//! API's permission matrix), another organization's URLs answering 404,
//! CSRF, a plan change's effect shown then applied, and paying an invoice
//! through the Stripe stand-in's checkout and signed webhook.

use crate::backend_tests;
use crate::console::Browser;
use crate::support::billing::planted_counters;
use crate::support::payments::{billed, Billed};
use crate::support::Backend;

const PAYER: &str = "payer@example.com";

/// The owner of the billed organization, signed in to the console.
async fn owner(b: &Billed) -> Browser<'_> {
    let browser = Browser::new(&b.app);
    let seen = browser
        .sign_in(PAYER, crate::support::accounts::PASSWORD)
        .await;
    assert_eq!(seen.status, 303, "{}", seen.body);
    browser
}

/// A person of their own organization added to the billed one as `role`.
async fn joined<'a>(b: &'a Billed, email: &str, role: &str) -> Browser<'a> {
    let browser = Browser::new(&b.app);
    browser.sign_up(email, "Their own").await;
    b.app
        .add_membership(&b.organization_id, &b.app.user_id(email).await, role)
        .await;
    browser
}

async fn plan_of(b: &Billed) -> String {
    sqlx::query_scalar("SELECT plan FROM organizations WHERE id = $1")
        .bind(&b.organization_id)
        .fetch_one(b.app.db.pool())
        .await
        .expect("the organization's plan")
}

async fn billing_follows_roles_and_tenants(backend: Backend) {
    let b = billed(backend, 3).await;
    let billing = format!("/o/{}/billing", b.organization_id);
    let invoice = format!("{billing}/invoices/{}", b.cycle_id);

    // The owner: plan, limits, the period so far, invoices, change and pay.
    let owner = owner(&b).await;
    let page = owner.get(&billing).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for expected in [
        "Plan: starter",
        "10.00 USD a month",
        "10,000 a month",
        "60 requests a minute",
        "This period so far",
        "2026-10",
        "60.00 USD",
        "pending",
        "Review the change",
    ] {
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
    assert!(page.body.contains(&format!("href=\"{invoice}\"")));

    // A member: the refusal page, not the data, and no Billing link.
    let member = joined(&b, "member@billing.test", "member").await;
    let overview = member.get(&format!("/o/{}", b.organization_id)).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(!overview.body.contains(&billing), "{}", overview.body);
    for path in [
        billing.clone(),
        invoice.clone(),
        format!("{billing}/change?plan=pro"),
        format!("{billing}/result?cycle={}", b.cycle_id),
    ] {
        let refused = member.get(&path).await;
        assert_eq!(refused.status, 403, "{path}");
        assert!(refused.body.contains("Not allowed"), "{}", refused.body);
        assert!(!refused.body.contains("60.00 USD"), "{path}");
    }

    // An admin: sees the plan and invoices, neither changes nor pays.
    let admin = joined(&b, "admin@billing.test", "admin").await;
    let seen = admin.get(&billing).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("Plan: starter"));
    assert!(!seen.body.contains("Review the change"));
    assert!(!seen.body.contains("/billing/change"));
    let seen = admin.get(&invoice).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains("60.00 USD"));
    assert!(!seen.body.contains("/pay\""), "{}", seen.body);
    assert!(seen.body.contains("Only an owner"));
    assert_eq!(
        admin
            .get(&format!("{billing}/change?plan=pro"))
            .await
            .status,
        403
    );
    let csrf = admin.get(&billing).await.csrf();
    let refused = admin
        .post(
            &format!("{billing}/change"),
            &[("csrf", &csrf), ("plan", "pro")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let refused = admin
        .post(
            &format!("{invoice}/pay"),
            &[("csrf", &csrf), ("provider", "stripe")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(plan_of(&b).await, "starter");

    // CSRF: the owner's change without the page's token is refused.
    let forged = owner
        .post(
            &format!("{billing}/change"),
            &[("csrf", "forged"), ("plan", "pro")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("This form has expired"));
    let forged = owner
        .post(&format!("{invoice}/pay"), &[("provider", "stripe")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(plan_of(&b).await, "starter");
    assert_eq!(b.count("SELECT COUNT(*) FROM payments").await, 0);

    // Another organization's user: 404 on every billing URL.
    let stranger = Browser::new(&b.app);
    stranger.sign_up("stranger@billing.test", "Elsewhere").await;
    let stranger_home = stranger.get("/billing").await;
    assert_eq!(stranger_home.status, 303);
    let own_billing = stranger_home.location.expect("their own billing");
    assert_ne!(own_billing, billing);
    let token = stranger.get(&own_billing).await.csrf();
    for path in [
        billing.clone(),
        invoice.clone(),
        format!("{billing}/change?plan=pro"),
        format!("{billing}/result?cycle={}", b.cycle_id),
        format!("{billing}/invoices/not-an-id"),
    ] {
        assert_eq!(stranger.get(&path).await.status, 404, "{path}");
    }
    for path in [
        format!("{billing}/change"),
        format!("{invoice}/pay"),
        format!("{billing}/scheduled-change/cancel"),
    ] {
        let seen = stranger
            .post(
                &path,
                &[("csrf", &token), ("plan", "pro"), ("provider", "stripe")],
            )
            .await;
        assert_eq!(seen.status, 404, "{path}");
    }
    // Their own page does not list the billed organization's invoice.
    let theirs = stranger.get(&own_billing).await;
    assert!(!theirs.body.contains(&b.cycle_id));
    // Signed out: the sign-in page.
    let away = Browser::new(&b.app).get(&billing).await;
    assert_eq!(away.status, 303);
    assert_eq!(away.location.as_deref(), Some("/sign-in"));
    let away = Browser::new(&b.app).get("/billing").await;
    assert_eq!(away.location.as_deref(), Some("/sign-in"));
}

async fn plan_changes_show_their_effect_before_applying(backend: Backend) {
    let b = billed(backend, 3).await;
    let billing = format!("/o/{}/billing", b.organization_id);
    let owner = owner(&b).await;

    // Downgrade: scheduled for the end of the period, on its date.
    let review = owner.get(&format!("{billing}/change?plan=free")).await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(
        review.body.contains("This is a downgrade"),
        "{}",
        review.body
    );
    let period_end = landlord_billing::Period::of(landlord_core::Timestamp::now()).end();
    assert!(review.body.contains(&period_end.date()), "{}", review.body);
    assert_eq!(
        plan_of(&b).await,
        "starter",
        "nothing changes before confirming"
    );
    let csrf = review.csrf();
    let done = owner
        .post(
            &format!("{billing}/change"),
            &[("csrf", &csrf), ("plan", "free")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = owner.get(done.location.as_deref().expect("back")).await;
    assert!(
        page.body.contains("The change is scheduled"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Moving to <strong>free</strong>"));
    assert_eq!(plan_of(&b).await, "starter");

    // Cancelled: stays on starter.
    let cancelled = owner
        .post(
            &format!("{billing}/scheduled-change/cancel"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert_eq!(cancelled.location.as_deref(), Some(billing.as_str()));
    let page = owner.get(&billing).await;
    assert!(!page.body.contains("Moving to"), "{}", page.body);
    assert!(page.body.contains("The scheduled change is cancelled"));
    assert!(page.body.contains("stays on starter."), "{}", page.body);
    // Said once.
    assert!(!owner
        .get(&billing)
        .await
        .body
        .contains("The scheduled change is cancelled"));

    // Upgrade: now, with the prorated amount the API computes.
    let review = owner.get(&format!("{billing}/change?plan=pro")).await;
    assert_eq!(review.status, 200, "{}", review.body);
    assert!(review.body.contains("This is an upgrade"));
    assert!(review.body.contains("takes effect <strong>now</strong>"));
    assert!(review.body.contains(" USD</strong>"), "{}", review.body);
    let done = owner
        .post(
            &format!("{billing}/change"),
            &[("csrf", &review.csrf()), ("plan", "pro")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(plan_of(&b).await, "pro");
    assert_eq!(done.location.as_deref(), Some(billing.as_str()));
    let page = owner.get(&billing).await;
    assert!(page.body.contains("Plan: pro"), "{}", page.body);
    assert!(page.body.contains("Your plan is now pro:"), "{}", page.body);
    assert!(!owner.get(&billing).await.body.contains("Your plan is now"));

    // The current plan or an unknown one: a readable refusal.
    let same = owner.get(&format!("{billing}/change?plan=pro")).await;
    assert_eq!(same.status, 422);
    assert!(same.body.contains("already"), "{}", same.body);
    assert_eq!(
        owner
            .get(&format!("{billing}/change?plan=gold"))
            .await
            .status,
        422
    );
}

async fn paying_goes_through_the_checkout_to_a_receipt(backend: Backend) {
    let b = billed(backend, 3).await;
    let billing = format!("/o/{}/billing", b.organization_id);
    let invoice = format!("{billing}/invoices/{}", b.cycle_id);
    let owner = owner(&b).await;

    let page = owner.get(&invoice).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Pay 60.00 USD"), "{}", page.body);
    // Browsers apply form-action to the pay form's redirect: https allowed.
    assert!(page
        .csp
        .as_deref()
        .is_some_and(|csp| csp.ends_with("form-action 'self' https:")));
    assert!(page.body.contains("value=\"stripe\""));
    assert!(page.body.contains("value=\"paystack\""));
    let checkout = owner
        .post(
            &format!("{invoice}/pay"),
            &[("csrf", &page.csrf()), ("provider", "stripe")],
        )
        .await;
    assert_eq!(checkout.status, 303, "{}", checkout.body);
    assert_eq!(
        checkout.location.as_deref(),
        Some("https://checkout.stripe.test/c/pay/cs_test_1")
    );
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'initiated'")
            .await,
        1
    );

    // Back from the provider (its success URL is `{app_url}/billing?paid=`).
    let back = owner.get(&format!("/billing?paid={}", b.cycle_id)).await;
    assert_eq!(back.status, 303);
    let result = back.location.expect("the result page");
    assert_eq!(result, format!("{billing}/result?cycle={}", b.cycle_id));
    let waiting = owner.get(&result).await;
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    assert!(
        waiting
            .body
            .contains("waiting for the provider's confirmation"),
        "{}",
        waiting.body
    );

    // The provider's signed webhook settles it: paid, with a receipt.
    assert_eq!(
        b.post_signed_stripe("evt_console_1", 6000).await.status(),
        200
    );
    b.wait_for_cycle("paid").await;
    let paid = owner.get(&result).await;
    assert!(paid.body.contains("this invoice is paid"), "{}", paid.body);
    assert!(paid.body.contains("Receipt 2026-10"));
    assert!(paid.body.contains("cs_test_1"));
    assert!(paid.body.contains("stripe"));
    assert!(!paid.body.contains("Continue to checkout"));
    let list = owner.get(&billing).await;
    assert!(list.body.contains("Receipt<span"), "{}", list.body);
    // Nothing left to pay: a readable refusal.
    let again = owner
        .post(
            &format!("{invoice}/pay"),
            &[("csrf", &paid.csrf()), ("provider", "stripe")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
}

async fn overview_charts_this_month_by_day(backend: Backend) {
    let b = billed(backend, 3).await;
    let now = landlord_core::Timestamp::now();
    let today = landlord_metering::daily::start_of_day(now);
    let period = landlord_billing::Period::of(now);
    planted_counters(&b.app, &b.organization_id, "", 7, today.millis()).await;
    if period.start() < today {
        planted_counters(&b.app, &b.organization_id, "", 3, period.start_ms()).await;
    }
    let overview = format!("/o/{}", b.organization_id);
    let owner = owner(&b).await;
    let page = owner.get(&overview).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let day = today.date();
    let earlier = if period.start() < today { 3 } else { 0 };
    let total = 7 + earlier;
    // Each day's bar is the running total; its tooltip gives both.
    assert!(
        page.body.contains(&format!(
            "<title>{day}: 7 requests, {total} this month so far</title>"
        )),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains(&format!("<time datetime=\"{day}\">{day}</time>")));
    assert!(page.body.contains("<g class=\"day today\">"));
    let first = period.start().date();
    if period.start() < today {
        assert!(page.body.contains(&format!(
            "<title>{first}: 3 requests, 3 this month so far</title>"
        )));
    }
    // Every day so far has its bar (days to come have none yet), the axes
    // and the quota line.
    let bars = page.body.matches("<g class=\"day").count();
    let days = (today.millis() - period.start_ms()) / landlord_metering::daily::DAY_MS + 1;
    assert_eq!(bars as i64, days);
    assert!(page.body.contains("class=\"axis x\""));
    assert!(page.body.contains("class=\"quota\""));
    assert!(page.body.contains("Bill so far"));
    // A member sees the chart, not the bill.
    let member = joined(&b, "member@overview.test", "member").await;
    let seen = member.get(&overview).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body.contains(&format!("<title>{day}: 7 requests, ")));
    assert!(!seen.body.contains("Bill so far"));
}

backend_tests!(
    overview_charts_this_month_by_day,
    billing_follows_roles_and_tenants,
    plan_changes_show_their_effect_before_applying,
    paying_goes_through_the_checkout_to_a_receipt,
);
