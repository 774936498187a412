//! Money moves once and is shown truthfully: a refund retried after a lost
//! answer, re-run after its job's lease ran out, or replayed by an operator
//! a day later (when Stripe has forgotten the idempotency key) is made once
//! at the provider; a payout likewise; two simultaneous upgrades change the
//! plan once; a cart in two currencies shows a total per currency;
//! reconciliation takes a provider's outage for no answer, not for "not
//! paid". Over
//! HTTP against the provider stand-in, on SQLite and PostgreSQL, for Stripe
//! and Paystack.

use std::time::Duration;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::token_of;
use crate::support::app::json;
use crate::support::eventually::eventually;
use crate::support::marketplace::{part_of, Market, Store};
use crate::support::{Backend, TestApp};

backend_tests!(
    a_stripe_refund_retried_after_a_lost_answer_is_made_once,
    a_paystack_refund_retried_after_a_lost_answer_is_made_once,
    a_dead_stripe_refund_replayed_a_day_later_is_made_once,
    a_dead_paystack_refund_replayed_a_day_later_is_made_once,
    a_refund_run_by_two_workers_at_once_is_made_once,
    a_late_payment_paid_twice_over_is_refunded_once,
    a_failed_stripe_payout_retried_a_day_later_is_paid_once,
    two_simultaneous_upgrades_on_two_instances_change_the_plan_once,
    a_cart_in_two_currencies_shows_a_total_per_currency,
    reconciliation_counts_only_a_definite_not_found_as_unpaid,
);

#[derive(Clone, Copy, PartialEq)]
enum Provider {
    Stripe,
    Paystack,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Paystack => "paystack",
        }
    }
}

/// A paid order of one product of `store` (`price`, in the provider's
/// currency); returns the order as checkout answered it.
async fn paid_order(market: &Market, store: &Store, provider: Provider, price: i64) -> Value {
    let currency = match provider {
        Provider::Stripe => "USD",
        Provider::Paystack => "NGN",
    };
    let product = market
        .product(store, "Brass Bell", price, 3, json!({"currency": currency}))
        .await;
    let buyer = market
        .buyer(&format!("{}-buyer@example.com", store.slug))
        .await;
    assert_eq!(market.add(&buyer, &product, 1).await.status(), 201);
    let started = market
        .checkout(&buyer, &format!("{}-1", store.slug), provider.name())
        .await;
    assert_eq!(started.status(), 201);
    let order = json(started).await["data"].clone();
    let paid = match provider {
        Provider::Stripe => market.pay(&order).await,
        Provider::Paystack => market.pay_paystack(&order).await,
    };
    assert_eq!(paid.status(), 200);
    market
        .wait_for_order(&buyer, order["id"].as_str().unwrap(), "confirmed")
        .await;
    order
}

/// The refunds the stand-in made (each once, whatever the calls): their
/// amounts, and the calls it received.
fn refunds_made(market: &Market, provider: Provider) -> (Vec<i64>, u32) {
    let state = market.stand_in.state.lock().unwrap();
    match provider {
        Provider::Stripe => (
            state
                .refunds
                .iter()
                .map(|r| r["amount"].parse::<i64>().unwrap())
                .collect(),
            state.refund_calls,
        ),
        Provider::Paystack => (
            state
                .paystack_refunds
                .iter()
                .map(|r| r["amount"].as_i64().unwrap())
                .collect(),
            state.paystack_refund_calls,
        ),
    }
}

/// The provider's id of the (only) refund it made.
fn refund_id(market: &Market, provider: Provider) -> String {
    let state = market.stand_in.state.lock().unwrap();
    match provider {
        Provider::Stripe => state.refunds[0]["id"].clone(),
        Provider::Paystack => state.paystack_refunds[0]["id"].to_string(),
    }
}

fn lose_next_refund_answer(market: &Market, provider: Provider) {
    let mut state = market.stand_in.state.lock().unwrap();
    match provider {
        Provider::Stripe => state.refunds_lose_answer = 1,
        Provider::Paystack => state.paystack_refunds_lose_answer = 1,
    }
}

/// The store's view of its vendor order, once its refund reference is known.
async fn refunded_part(market: &Market, store: &Store, part: &str) -> Value {
    eventually(
        "the refund reference on the store's order",
        Duration::from_secs(15),
        async || {
            let view = json(
                market
                    .app
                    .get_as(
                        &format!("/api/v1/marketplace/vendor/orders/{part}"),
                        &store.owner,
                    )
                    .await,
            )
            .await["data"]
                .clone();
            view["refund_reference"].is_string().then_some(view)
        },
    )
    .await
}

/// The refund job: (id, status).
async fn refund_job(market: &Market) -> (String, String) {
    sqlx::query_as("SELECT id, status FROM jobs WHERE kind = 'marketplace.refund'")
        .fetch_one(market.app.db.pool())
        .await
        .expect("the refund job")
}

/// The store cancels its part of `order`: the buyer is to be refunded.
async fn cancel(market: &Market, store: &Store, order: &Value) -> String {
    let part = part_of(order, store);
    let cancelled = market
        .move_part(
            store,
            &part,
            json!({"status": "cancelled", "reason": "out of stock after all"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    part
}

async fn a_stripe_refund_retried_after_a_lost_answer_is_made_once(backend: Backend) {
    refund_retried_after_a_lost_answer(backend, Provider::Stripe).await;
}

async fn a_paystack_refund_retried_after_a_lost_answer_is_made_once(backend: Backend) {
    refund_retried_after_a_lost_answer(backend, Provider::Paystack).await;
}

async fn refund_retried_after_a_lost_answer(backend: Backend, provider: Provider) {
    let market = Market::start(backend).await;
    let store = market
        .store(&format!("bells-{}", provider.name()), None)
        .await;
    let order = paid_order(&market, &store, provider, 7_000).await;
    // The provider makes the refund but its answer is lost: the job retries.
    lose_next_refund_answer(&market, provider);
    let part = cancel(&market, &store, &order).await;
    let view = refunded_part(&market, &store, &part).await;
    let (made, calls) = refunds_made(&market, provider);
    assert_eq!(
        made,
        vec![7_000],
        "one refund of the part, whatever the retries"
    );
    assert_eq!(
        calls, 1,
        "the retry asked the provider's list, not for a refund"
    );
    assert_eq!(
        view["refund_reference"],
        refund_id(&market, provider).as_str()
    );

    // The job's lease runs out after it finished (its worker was presumed
    // dead) and another worker runs it again — a day later for Stripe's
    // idempotency keys.
    market.stand_in.forget_idempotency_keys();
    let (job, status) = refund_job(&market).await;
    assert_eq!(status, "done");
    sqlx::query("UPDATE jobs SET status = 'running', locked_until = $1 WHERE id = $2")
        .bind(1_i64)
        .bind(&job)
        .execute(market.app.db.pool())
        .await
        .expect("the lease runs out");
    eventually(
        "the job to run again",
        Duration::from_secs(15),
        async || (refund_job(&market).await.1 == "done").then_some(()),
    )
    .await;
    assert_eq!(refunds_made(&market, provider), (vec![7_000], 1));
}

async fn a_dead_stripe_refund_replayed_a_day_later_is_made_once(backend: Backend) {
    dead_refund_replayed(backend, Provider::Stripe).await;
}

async fn a_dead_paystack_refund_replayed_a_day_later_is_made_once(backend: Backend) {
    dead_refund_replayed(backend, Provider::Paystack).await;
}

/// One attempt per job: the attempt whose answer is lost dead-letters the
/// refund job; an operator replays it a day later.
async fn dead_refund_replayed(backend: Backend, provider: Provider) {
    let market = Market::start_with(backend, |c| c.jobs_max_attempts = 1).await;
    let store = market
        .store(&format!("gongs-{}", provider.name()), None)
        .await;
    let order = paid_order(&market, &store, provider, 4_200).await;
    lose_next_refund_answer(&market, provider);
    let part = cancel(&market, &store, &order).await;
    let job = eventually(
        "the refund job to die",
        Duration::from_secs(15),
        async || {
            let (id, status) = refund_job(&market).await;
            (status == "dead").then_some(id)
        },
    )
    .await;
    assert_eq!(
        refunds_made(&market, provider).0,
        vec![4_200],
        "made, answer lost"
    );
    // A day later: Stripe has forgotten the key; the operator replays the job.
    market.stand_in.forget_idempotency_keys();
    let replayed = market
        .app
        .post_as(
            &format!("/api/v1/admin/jobs/{job}/retry"),
            &market.operator,
            &json!({}),
        )
        .await;
    assert_eq!(replayed.status(), 202);
    let view = refunded_part(&market, &store, &part).await;
    assert_eq!(refund_job(&market).await.1, "done");
    assert_eq!(
        refunds_made(&market, provider),
        (vec![4_200], 1),
        "found at the provider, not made again"
    );
    assert_eq!(
        view["refund_reference"],
        refund_id(&market, provider).as_str()
    );
}

/// An order paid after it expired is refunded in full; the provider's
/// event arriving again (a replay) does not ask for a second refund.
async fn a_late_payment_paid_twice_over_is_refunded_once(backend: Backend) {
    let market = Market::start_with(backend, |c| c.marketplace.reservation_ttl_secs = 1).await;
    let store = market.store("latebell", None).await;
    let product = market
        .product(&store, "Hand Bell", 2_500, 2, json!({"currency": "NGN"}))
        .await;
    let buyer = market.buyer("latebell-buyer@example.com").await;
    assert_eq!(market.add(&buyer, &product, 1).await.status(), 201);
    let started = market.checkout(&buyer, "latebell-1", "paystack").await;
    assert_eq!(started.status(), 201);
    let order = json(started).await["data"].clone();
    let id = order["id"].as_str().unwrap();
    market.wait_for_order(&buyer, id, "expired").await;
    assert_eq!(market.pay_paystack(&order).await.status(), 200);
    eventually("the late refund", Duration::from_secs(15), async || {
        (refunds_made(&market, Provider::Paystack).0.len() == 1).then_some(())
    })
    .await;
    // The charge is announced again under another id: the refund is not
    // asked for twice.
    assert_eq!(
        market.pay_paystack_as(&order, 4_099_260_999).await.status(),
        200
    );
    eventually(
        "the second event handled",
        Duration::from_secs(15),
        async || {
            let done = market
            .app
            .count(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'marketplace.payment' AND status = 'done'",
                &[],
            )
            .await;
            (done == 2).then_some(())
        },
    )
    .await;
    assert_eq!(
        refunds_made(&market, Provider::Paystack),
        (vec![2_500], 1),
        "one refund of the late payment"
    );
}

/// A payout whose transfer was made but whose answer was lost fails (one
/// attempt per job here); the operator retries it a day later, when
/// Stripe has forgotten the idempotency key: the transfer is found by its
/// group, not made again.
async fn a_failed_stripe_payout_retried_a_day_later_is_paid_once(backend: Backend) {
    let market = Market::start_with(backend, |c| {
        c.marketplace.payout_hold_secs = 0;
        c.jobs_max_attempts = 1;
    })
    .await;
    market.stand_in.state.lock().unwrap().transfers_lose_answer = 1;
    let store = market.store("cymbals", None).await;
    let order = paid_order(&market, &store, Provider::Stripe, 3_000).await;
    market.deliver(&store, &part_of(&order, &store)).await;
    let payouts = async || {
        json(
            market
                .app
                .get_as("/api/v1/marketplace/vendor/payouts", &store.owner)
                .await,
        )
        .await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let failed = eventually("the payout to fail", Duration::from_secs(20), async || {
        payouts()
            .await
            .into_iter()
            .find(|p| p["status"] == "failed")
    })
    .await;
    assert_eq!(market.stand_in.state.lock().unwrap().transfers.len(), 1);
    market.stand_in.forget_idempotency_keys();
    let id = failed["id"].as_str().unwrap();
    let retried = market
        .app
        .post_as(
            &format!("/api/v1/admin/marketplace/payouts/{id}/retry"),
            &market.operator,
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), 200);
    let paid = eventually(
        "the payout to be paid",
        Duration::from_secs(20),
        async || payouts().await.into_iter().find(|p| p["status"] == "paid"),
    )
    .await;
    let state = market.stand_in.state.lock().unwrap();
    assert_eq!(
        state.transfers.len(),
        1,
        "one transfer, found after the retry"
    );
    assert_eq!(
        paid["transfer_reference"],
        state.transfers[0]["id"].as_str()
    );
}

/// A double click on two instances of one database: free → pro twice at
/// once, a few times over. Each time one request changes the plan and the
/// other is told that nothing changed; the organization is on pro, with one
/// plan change and one audit entry.
async fn two_simultaneous_upgrades_on_two_instances_change_the_plan_once(backend: Backend) {
    let signing = |c: &mut landlord::settings::Settings| {
        c.token_signing_key = Some("a token signing key for two servers, 32+".into());
        c.payload_encryption_key = Some("a payload key for two servers, long enough".into());
    };
    let first = TestApp::spawn_with(backend, signing).await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        signing(c);
        c.database_url = Some(database);
    })
    .await;
    for trial in 0..4 {
        let registered = first
            .register(
                &format!("clicks-{trial}@example.com"),
                &format!("Clicks {trial}"),
            )
            .await;
        let token = token_of(&registered, "access_token");
        let organization = token_of(&registered["organization"], "id");
        let body = json!({"plan": "pro"});
        let (a, b) = tokio::join!(
            first.post_as("/api/v1/billing/upgrade", &token, &body),
            second.post_as("/api/v1/billing/upgrade", &token, &body),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        let answers = [json(a).await, json(b).await];
        statuses.sort_unstable();
        assert!(
            statuses == [200, 409] || statuses == [200, 422],
            "trial {trial}: one change, one refusal: {statuses:?} {answers:?}"
        );
        let refusal = answers
            .iter()
            .find(|a| a["success"] == false)
            .expect("a refusal");
        assert!(
            refusal["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("pro") || m.contains("already")),
            "{refusal}"
        );
        let now = json(first.get_as("/api/v1/organization", &token).await).await;
        assert_eq!(now["data"]["plan"], "pro");
        let audit = json(
            second
                .get_as("/api/v1/audit-log?action=billing.plan_changed", &token)
                .await,
        )
        .await;
        assert_eq!(
            audit["data"].as_array().map(Vec::len),
            Some(1),
            "trial {trial}: one audit entry: {audit}"
        );
        assert_eq!(
            first
                .count(
                    "SELECT COUNT(*) FROM plan_changes WHERE organization_id = $1",
                    &[&organization],
                )
                .await,
            1,
            "trial {trial}: one plan change"
        );
    }
}

/// A store changes a product's currency after it was added to a cart: the
/// cart (API and console page) shows one total per currency, never a sum
/// across them, and checkout still refuses it.
async fn a_cart_in_two_currencies_shows_a_total_per_currency(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("teas", None).await;
    let tea = market
        .product(&store, "Green Tea", 1_000, 10, json!({}))
        .await;
    let cup = market
        .product(&store, "Tea Cup", 2_500, 10, json!({}))
        .await;
    let email = "two-currencies@example.com";
    let buyer = market.buyer(email).await;
    assert_eq!(market.add(&buyer, &tea, 2).await.status(), 201);
    assert_eq!(market.add(&buyer, &cup, 1).await.status(), 201);
    let one = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(
        (
            &one["data"]["total"],
            &one["data"]["currency"],
            &one["data"]["totals"]
        ),
        (
            &json!(4_500),
            &json!("USD"),
            &json!([{"currency": "USD", "amount": 4_500}])
        )
    );
    let changed = market
        .app
        .client
        .patch(
            market
                .app
                .url(&format!("/api/v1/marketplace/vendor/products/{cup}")),
        )
        .bearer_auth(&store.owner)
        .json(&json!({"currency": "EUR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    let cart = json(market.app.get_as("/api/v1/marketplace/cart", &buyer).await).await;
    assert_eq!(
        cart["data"]["totals"],
        json!([{"currency": "EUR", "amount": 2_500}, {"currency": "USD", "amount": 2_000}])
    );
    assert!(
        cart["data"]["total"].is_null(),
        "no total across currencies"
    );
    assert!(cart["data"]["currency"].is_null());
    let refused = market.checkout(&buyer, "two-currencies-1", "stripe").await;
    crate::support::errors::assert_invalid_field(refused, "cart").await;

    let browser = crate::console::Browser::new(&market.app);
    assert_eq!(
        browser
            .sign_in(email, crate::support::accounts::PASSWORD)
            .await
            .status,
        303
    );
    let page = browser.get("/marketplace/cart").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["Total in EUR", "25.00 EUR", "Total in USD", "20.00 USD"] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    assert!(!page.body.contains("45.00"), "no sum across currencies");
    assert!(
        page.body.contains("Your cart holds prices in EUR and USD"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<button type=\"submit\" disabled>Pay</button>"));
}

/// A paid Paystack invoice: while Paystack answers 500, reconciliation
/// records nothing (and says it could not check); once Paystack answers
/// 404 for the transaction, the difference is recorded for operators.
async fn reconciliation_counts_only_a_definite_not_found_as_unpaid(backend: Backend) {
    use crate::support::payments::{billed, paystack_event, post_paystack};
    let b = billed(backend, 3).await;
    let checkout = json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"].as_str().unwrap().to_string();
    let mut event: Value = serde_json::from_slice(&paystack_event(&reference, 91)).unwrap();
    event["data"]["metadata"] = json!({"billing_cycle_id": b.cycle_id});
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(post_paystack(&b, &body).await.status(), 200);
    b.wait_for_cycle("paid").await;
    let providers = landlord_payments::Providers::from_config(&b.app.config);
    let ops = b.verified_operator().await;
    let listed = async || {
        json(b.app.get_as("/api/v1/admin/discrepancies", &ops).await).await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };

    // Paystack is down: no answer is not "not paid".
    b.stand_in.state.lock().unwrap().verify_fails = true;
    let run = landlord_payments::reconcile(&b.app.db, &providers)
        .await
        .unwrap();
    assert_eq!((run.recorded, run.unanswered), (0, 1));
    assert_eq!(
        listed().await,
        Vec::<Value>::new(),
        "an outage floods no one"
    );

    // Paystack answers, and does not know the transaction: a difference.
    {
        let mut state = b.stand_in.state.lock().unwrap();
        state.verify_fails = false;
        state.transactions.remove(&reference);
    }
    let run = landlord_payments::reconcile(&b.app.db, &providers)
        .await
        .unwrap();
    assert_eq!((run.recorded, run.unanswered), (1, 0));
    let found = listed().await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["kind"], "we_paid_provider_did_not");
}

/// The refund job's lease runs out while its Paystack call is still in
/// flight, and a second instance's worker takes the job: it waits for the
/// first attempt instead of refunding again.
async fn a_refund_run_by_two_workers_at_once_is_made_once(backend: Backend) {
    let market = Market::start(backend).await;
    let store = market.store("chimes", None).await;
    let order = paid_order(&market, &store, Provider::Paystack, 5_500).await;
    let database = market.app.database_url();
    let _second = TestApp::spawn_with(backend, |c| {
        market.stand_in.configure(c);
        c.database_url = Some(database);
    })
    .await;
    market
        .stand_in
        .state
        .lock()
        .unwrap()
        .paystack_refunds_delay_ms = 2_000;
    let part = cancel(&market, &store, &order).await;
    eventually(
        "the refund call in flight",
        Duration::from_secs(15),
        async || (market.stand_in.state.lock().unwrap().paystack_refund_calls == 1).then_some(()),
    )
    .await;
    // Its lease runs out now: the idle instance claims the job again.
    sqlx::query(
        "UPDATE jobs SET locked_until = 1 WHERE kind = 'marketplace.refund' AND status = 'running'",
    )
    .execute(market.app.db.pool())
    .await
    .expect("the lease runs out");
    let view = refunded_part(&market, &store, &part).await;
    eventually("the job done", Duration::from_secs(15), async || {
        (refund_job(&market).await.1 == "done").then_some(())
    })
    .await;
    assert_eq!(
        refunds_made(&market, Provider::Paystack),
        (vec![5_500], 1),
        "one refund: the second worker did not call while the first was in flight"
    );
    assert_eq!(
        view["refund_reference"],
        refund_id(&market, Provider::Paystack).as_str()
    );
}
