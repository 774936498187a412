//! Payments with local stand-ins for Stripe and Paystack: checkouts,
//! signed webhooks, deduplication, amount checks, retries and replay — on
//! SQLite and PostgreSQL.

use std::time::Duration;

use landlord_payments::signature::sign_stripe;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::token_of;
use crate::support::app::{assert_error, json};
use crate::support::clock::now_secs;
use crate::support::errors::{assert_error_saying, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::payments::{billed, paystack_event, post_paystack};
use crate::support::providers::STRIPE_WEBHOOK_SECRET;
use crate::support::{Backend, TestApp};

backend_tests!(
    checkouts_come_from_the_provider_and_replay_idempotently,
    a_signed_stripe_event_pays_the_cycle_once,
    bad_signatures_stale_timestamps_and_wrong_amounts,
    a_paystack_event_is_confirmed_then_pays_the_cycle,
    a_failing_event_is_retried_dead_lettered_and_replayed,
    only_platform_administrators_reach_admin,
    an_operator_resolves_a_discrepancy_once,
    the_figures_follow_a_settled_payment,
    operators_close_a_month_from_the_api_once,
    reconciliation_records_a_difference_planted_at_the_provider,
    only_owners_pay_and_only_through_configured_providers,
);

async fn checkouts_come_from_the_provider_and_replay_idempotently(backend: Backend) {
    let b = billed(backend, 3).await;
    let first = b.initiate("stripe", Some("pay-oct")).await;
    assert_eq!(first.status(), 200);
    let first = json(first).await["data"].clone();
    assert_eq!(first["provider"], "stripe");
    assert_eq!(
        first["checkout_url"],
        "https://checkout.stripe.test/c/pay/cs_test_1"
    );
    assert_eq!(
        (first["amount"].clone(), first["currency"].clone()),
        (json!(6000), json!("USD"))
    );
    let replay = json(b.initiate("stripe", Some("pay-oct")).await).await["data"].clone();
    assert_eq!(
        replay, first,
        "an idempotent replay answers the same checkout"
    );
    {
        let state = b.stand_in.state.lock().unwrap();
        assert_eq!(state.sessions.len(), 1, "the provider was asked once");
        let session = &state.sessions[0];
        assert_eq!(session["metadata[billing_cycle_id]"], b.cycle_id);
        assert_eq!(session["metadata[organization_id]"], b.organization_id);
        assert_eq!(session["line_items[0][price_data][unit_amount]"], "6000");
        assert_eq!(session["line_items[0][price_data][currency]"], "usd");
        assert_eq!(session["mode"], "payment");
    }
    let paystack = json(b.initiate("paystack", None).await).await["data"].clone();
    assert!(paystack["checkout_url"]
        .as_str()
        .unwrap()
        .starts_with("https://checkout.paystack.test/"));
    let reference = paystack["reference"].as_str().unwrap();
    assert_eq!(
        b.stand_in.state.lock().unwrap().transactions[reference],
        (6000, "USD".to_string())
    );
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'initiated'")
            .await,
        2
    );

    let bad = b
        .app
        .client
        .post(b.app.url("/api/v1/billing/initiate-payment"))
        .bearer_auth(&b.owner)
        .json(&json!({"billing_cycle_id": b.cycle_id, "provider": "paypal"}))
        .send()
        .await
        .unwrap();
    assert_invalid_field(bad, "provider").await;
    // Another organization's cycle is not found.
    let other = token_of(
        &b.app.register("other@example.com", "Other").await,
        "access_token",
    );
    let foreign = b
        .app
        .client
        .post(b.app.url("/api/v1/billing/initiate-payment"))
        .bearer_auth(&other)
        .json(&json!({"billing_cycle_id": b.cycle_id, "provider": "stripe"}))
        .send()
        .await
        .unwrap();
    assert_error(foreign, 404, "NOT_FOUND").await;
    // At most 5 a minute per organization (3 made above, plus the refusal).
    b.initiate("stripe", None).await;
    let limited = b.initiate("stripe", None).await;
    assert_error(limited, 429, "RATE_LIMITED").await;
}

async fn a_signed_stripe_event_pays_the_cycle_once(backend: Backend) {
    let b = billed(backend, 3).await;
    b.initiate("stripe", None).await;
    let body = b.stripe_event("evt_1", 6000, "usd");
    let signature = sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs());
    let received = b.post_stripe(&body, Some(signature.clone())).await;
    assert_eq!(received.status(), 200);
    assert_eq!(
        json(received).await["data"],
        json!({"received": true, "duplicate": false})
    );
    b.wait_for_cycle("paid").await;
    let receipt = b
        .smtp
        .wait_for_subject("payer@example.com", "Receipt")
        .await;
    assert!(
        receipt.subject().contains("60.00 USD"),
        "{}",
        receipt.subject()
    );
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")
            .await,
        1
    );
    let history = json(b.app.get_as("/api/v1/billing/history", &b.owner).await).await;
    assert!(history["data"][0]["paid_at"].is_string());

    // The same event again changes nothing.
    let again = b
        .post_stripe(
            &body,
            Some(sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs())),
        )
        .await;
    assert_eq!(json(again).await["data"]["duplicate"], true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")
            .await,
        1
    );
    assert_eq!(
        b.count("SELECT COUNT(*) FROM provider_webhook_events")
            .await,
        1
    );
    let receipts = b
        .smtp
        .received()
        .iter()
        .filter(|m| m.subject().contains("Receipt"))
        .count();
    assert_eq!(receipts, 1);
    // A paid cycle has nothing left to pay.
    assert_error(b.initiate("stripe", None).await, 409, "CONFLICT").await;
}

async fn bad_signatures_stale_timestamps_and_wrong_amounts(backend: Backend) {
    let b = billed(backend, 3).await;
    let body = b.stripe_event("evt_bad", 6000, "usd");
    for (signature, reason) in [
        (None, "missing"),
        (
            Some(sign_stripe(&body, "whsec_wrong", now_secs())),
            "does not match",
        ),
        (
            Some(sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs() - 600)),
            "tolerance",
        ),
        (Some("t=abc".to_string()), "malformed"),
    ] {
        let error = assert_error(
            b.post_stripe(&body, signature).await,
            400,
            "INVALID_SIGNATURE",
        )
        .await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(reason),
            "{reason}: {error}"
        );
    }
    // A tampered body with a signature of the original.
    let signature = sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs());
    let tampered = b.stripe_event("evt_bad", 1, "usd");
    assert_error(
        b.post_stripe(&tampered, Some(signature)).await,
        400,
        "INVALID_SIGNATURE",
    )
    .await;
    let paystack = b
        .app
        .client
        .post(b.app.url("/api/v1/webhooks/paystack"))
        .header("x-paystack-signature", "00")
        .body(r#"{"event":"charge.success","data":{"id":1}}"#)
        .send()
        .await
        .unwrap();
    assert_error(paystack, 400, "INVALID_SIGNATURE").await;
    assert_eq!(
        b.count("SELECT COUNT(*) FROM provider_webhook_events")
            .await,
        0,
        "nothing stored"
    );
    let metrics = b.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("webhook_signature_failures_total"),
        "only a counter moves"
    );

    // A correctly signed event with the wrong amount leaves the cycle unpaid
    // and records the difference.
    let wrong = b.stripe_event("evt_wrong", 5000, "usd");
    let received = b
        .post_stripe(
            &wrong,
            Some(sign_stripe(&wrong, STRIPE_WEBHOOK_SECRET, now_secs())),
        )
        .await;
    assert_eq!(received.status(), 200);
    let (kind, ours, theirs) = eventually(
        "a discrepancy recorded",
        Duration::from_secs(10),
        async || -> Option<(String, Option<String>, Option<String>)> {
            sqlx::query_as(
                "SELECT kind, ours, theirs FROM reconciliation_discrepancies WHERE billing_cycle_id = $1",
            )
            .bind(&b.cycle_id)
            .fetch_optional(b.app.db.pool())
            .await
            .unwrap()
        },
    )
    .await;
    assert_eq!(kind, "amount_mismatch");
    assert_eq!(ours.as_deref(), Some("6000 USD"));
    assert_eq!(theirs.as_deref(), Some("5000 USD"));
    assert_eq!(b.cycle_status().await, "pending");
    assert_eq!(
        b.count("SELECT COUNT(*) FROM payments WHERE status = 'succeeded'")
            .await,
        0
    );
}

async fn a_paystack_event_is_confirmed_then_pays_the_cycle(backend: Backend) {
    let b = billed(backend, 3).await;
    let checkout = json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"].as_str().unwrap().to_string();
    let body = {
        let mut event: Value = serde_json::from_slice(&paystack_event(&reference, 77)).unwrap();
        event["data"]["metadata"] = json!({"billing_cycle_id": b.cycle_id});
        serde_json::to_vec(&event).unwrap()
    };
    let received = post_paystack(&b, &body).await;
    assert_eq!(json(received).await["data"]["duplicate"], false);
    b.wait_for_cycle("paid").await;
    let (provider, status): (String, String) =
        sqlx::query_as("SELECT provider, status FROM payments WHERE provider_reference = $1")
            .bind(&reference)
            .fetch_one(b.app.db.pool())
            .await
            .unwrap();
    assert_eq!(
        (provider.as_str(), status.as_str()),
        ("paystack", "succeeded")
    );
    assert_eq!(
        json(post_paystack(&b, &body).await).await["data"]["duplicate"],
        true
    );
}

async fn a_failing_event_is_retried_dead_lettered_and_replayed(backend: Backend) {
    let b = billed(backend, 3).await;
    let checkout = json(b.initiate("paystack", None).await).await["data"].clone();
    let reference = checkout["reference"].as_str().unwrap().to_string();
    b.stand_in.state.lock().unwrap().verify_fails = true;
    let mut event: Value = serde_json::from_slice(&paystack_event(&reference, 88)).unwrap();
    event["data"]["metadata"] = json!({"billing_cycle_id": b.cycle_id});
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(post_paystack(&b, &body).await.status(), 200);
    let (event_id, _, attempts, last_error) = eventually(
        "the event to be dead-lettered",
        Duration::from_secs(15),
        async || {
            let row: (String, String, i64, Option<String>) = sqlx::query_as(
                "SELECT id, status, attempts, last_error FROM provider_webhook_events",
            )
            .fetch_one(b.app.db.pool())
            .await
            .unwrap();
            (row.1 == "dead").then_some(row)
        },
    )
    .await;
    assert_eq!(attempts, 3, "dead after the 3rd attempt");
    assert!(last_error.unwrap_or_default().contains("500"));
    assert_eq!(b.cycle_status().await, "pending");

    // The provider recovers; an operator replays the event.
    b.stand_in.state.lock().unwrap().verify_fails = false;
    assert!(landlord_payments::replay_event(
        &b.app.db,
        &landlord_core::ids::WebhookEventId::from_trusted(event_id.clone())
    )
    .await
    .unwrap());
    assert!(!landlord_payments::replay_event(
        &b.app.db,
        &landlord_core::ids::WebhookEventId::generate()
    )
    .await
    .unwrap());
    b.wait_for_cycle("paid").await;
    eventually(
        "the replayed event to be processed",
        Duration::from_secs(10),
        async || {
            let (status,): (String,) =
                sqlx::query_as("SELECT status FROM provider_webhook_events WHERE id = $1")
                    .bind(&event_id)
                    .fetch_one(b.app.db.pool())
                    .await
                    .unwrap();
            (status == "processed").then_some(())
        },
    )
    .await;
}

async fn only_platform_administrators_reach_admin(backend: Backend) {
    let b = billed(backend, 3).await;
    // The organization's owner is not a platform administrator.
    for path in [
        "/api/v1/admin/figures",
        "/api/v1/admin/webhook-events",
        "/api/v1/admin/discrepancies",
    ] {
        assert_error_saying(
            b.app.get_as(path, &b.owner).await,
            403,
            "FORBIDDEN",
            "platform administrators",
        )
        .await;
        assert_error(b.app.get(path).await, 401, "UNAUTHORIZED").await;
    }
    let ops = b.verified_operator().await;
    let figures = json(b.app.get_as("/api/v1/admin/figures", &ops).await).await["data"].clone();
    assert_eq!(
        figures["organizations_by_plan"],
        json!({"free": 1, "starter": 1})
    );
    assert_eq!(figures["mrr"], json!({"USD": 1000}));
    assert_eq!(figures["overdue_total"], json!({}));
    assert!(figures["webhook_success_rate"].is_null());
}

async fn an_operator_resolves_a_discrepancy_once(backend: Backend) {
    let b = billed(backend, 3).await;
    let ops = b.verified_operator().await;
    // A wrong amount shows up as a discrepancy, which an operator resolves.
    b.post_signed_stripe("evt_wrong", 100).await;
    let first = eventually(
        "a discrepancy listed",
        Duration::from_secs(10),
        async || {
            let list = json(b.app.get_as("/api/v1/admin/discrepancies", &ops).await).await;
            list["data"].as_array().unwrap().first().cloned()
        },
    )
    .await;
    assert_eq!(first["kind"], "amount_mismatch");
    let id = first["id"].as_str().unwrap().to_string();
    assert_eq!(
        b.app
            .post_as(
                &format!("/api/v1/admin/discrepancies/{id}/resolve"),
                &ops,
                &json!({})
            )
            .await
            .status(),
        200
    );
    assert_error(
        b.app
            .post_as(
                &format!("/api/v1/admin/discrepancies/{id}/resolve"),
                &ops,
                &json!({}),
            )
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let open = json(b.app.get_as("/api/v1/admin/discrepancies", &ops).await).await;
    assert_eq!(open["data"].as_array().unwrap().len(), 0);
    let resolved = json(
        b.app
            .get_as("/api/v1/admin/discrepancies?resolved=true", &ops)
            .await,
    )
    .await;
    assert_eq!(resolved["data"].as_array().unwrap().len(), 1);
}

async fn the_figures_follow_a_settled_payment(backend: Backend) {
    let b = billed(backend, 3).await;
    let ops = b.verified_operator().await;
    // The matching payment then settles the cycle; the figures follow.
    b.post_signed_stripe("evt_right", 6000).await;
    b.wait_for_cycle("paid").await;
    let figures = json(b.app.get_as("/api/v1/admin/figures", &ops).await).await["data"].clone();
    assert_eq!(figures["revenue_this_month"], json!({"USD": 6000}));
    assert_eq!(figures["webhook_success_rate"], 1.0);
    assert_eq!(figures["payment_failure_rate"], 0.0);
}

async fn operators_close_a_month_from_the_api_once(backend: Backend) {
    let b = billed(backend, 3).await;
    let ops = b.verified_operator().await;
    // Operators can close a month from the API; a second close changes nothing.
    let closed = json(
        b.app
            .post_as(
                "/api/v1/admin/billing/close-period",
                &ops,
                &json!({"month": "2026-10"}),
            )
            .await,
    )
    .await;
    // October was closed by the fixture; the operators' organization did
    // not exist yet, so nothing new is billed.
    assert_eq!(closed["data"]["created"], 0);
    assert_eq!(closed["data"]["existing"], 1);
    assert_invalid_field(
        b.app
            .post_as(
                "/api/v1/admin/billing/close-period",
                &ops,
                &json!({"month": "Oct"}),
            )
            .await,
        "month",
    )
    .await;
    assert_error(
        b.app
            .post_as(
                "/api/v1/admin/billing/close-period",
                &b.owner,
                &json!({"month": "2026-10"}),
            )
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
}

async fn reconciliation_records_a_difference_planted_at_the_provider(backend: Backend) {
    let b = billed(backend, 3).await;
    let checkout = json(b.initiate("stripe", None).await).await["data"].clone();
    let providers = landlord_payments::Providers::from_config(&b.app.config);
    assert_eq!(
        landlord_payments::reconcile(&b.app.db, &providers)
            .await
            .unwrap()
            .recorded,
        0,
        "in agreement"
    );
    // The customer paid at Stripe, but no webhook ever reached us.
    let session = checkout["reference"].as_str().unwrap().to_string();
    b.stand_in
        .state
        .lock()
        .unwrap()
        .paid_sessions
        .insert(session.clone());
    assert_eq!(
        landlord_payments::reconcile(&b.app.db, &providers)
            .await
            .unwrap()
            .recorded,
        1
    );
    assert_eq!(
        landlord_payments::reconcile(&b.app.db, &providers)
            .await
            .unwrap()
            .recorded,
        0,
        "recorded once"
    );
    let (kind, ours, theirs): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT kind, ours, theirs FROM reconciliation_discrepancies WHERE provider_reference = $1",
    )
    .bind(&session)
    .fetch_one(b.app.db.pool())
    .await
    .unwrap();
    assert_eq!(kind, "provider_paid_we_did_not");
    assert_eq!(ours.as_deref(), Some("initiated 6000 USD"));
    assert_eq!(theirs.as_deref(), Some("paid 6000 USD"));
    let ops = b.verified_operator().await;
    let listed = json(b.app.get_as("/api/v1/admin/discrepancies", &ops).await).await;
    assert_eq!(listed["data"][0]["kind"], "provider_paid_we_did_not");
}

async fn only_owners_pay_and_only_through_configured_providers(backend: Backend) {
    let b = billed(backend, 3).await;
    // An admin of the organization may see billing but not pay.
    let admin = b.app.register("admin@example.com", "Admin's own").await;
    sqlx::query("INSERT INTO memberships (id, organization_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, 'admin', 1, 1)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&b.organization_id)
        .bind(admin["user"]["id"].as_str().unwrap())
        .execute(b.app.db.pool())
        .await
        .unwrap();
    let switched = json(
        b.app
            .post_as(
                "/api/v1/auth/switch-organization",
                &token_of(&admin, "access_token"),
                &json!({"organization_id": b.organization_id}),
            )
            .await,
    )
    .await;
    let admin_token = token_of(&switched["data"], "access_token");
    let refused = b
        .app
        .post_as(
            "/api/v1/billing/initiate-payment",
            &admin_token,
            &json!({"billing_cycle_id": b.cycle_id, "provider": "stripe"}),
        )
        .await;
    assert_error_saying(refused, 403, "FORBIDDEN", "pay_invoices").await;

    // Paystack replays answer the same checkout too.
    let first = json(b.initiate("paystack", Some("ps-1")).await).await;
    let again = json(b.initiate("paystack", Some("ps-1")).await).await;
    assert_eq!(first, again);
    assert_eq!(b.stand_in.state.lock().unwrap().transactions.len(), 1);
    let conflict = b
        .app
        .client
        .post(b.app.url("/api/v1/billing/initiate-payment"))
        .bearer_auth(&b.owner)
        .header("idempotency-key", "ps-1")
        .json(&json!({"billing_cycle_id": b.cycle_id, "provider": "stripe"}))
        .send()
        .await
        .unwrap();
    assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT").await;

    // A server without Paystack settings says so.
    let bare = TestApp::spawn(backend).await;
    let owner = token_of(
        &bare.register("solo@example.com", "Solo").await,
        "access_token",
    );
    let response = bare
        .post_as(
            "/api/v1/billing/initiate-payment",
            &owner,
            &json!({"billing_cycle_id": uuid::Uuid::now_v7().to_string(), "provider": "paystack"}),
        )
        .await;
    assert_error_saying(response, 503, "SERVICE_UNAVAILABLE", "not configured").await;
    let webhook = bare.post_raw("/api/v1/webhooks/stripe", b"{}").await;
    assert_error(webhook, 503, "SERVICE_UNAVAILABLE").await;
}
