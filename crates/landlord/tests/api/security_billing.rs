//! Issue 9 (security review), billing and operators: platform
//! administrators only from verified addresses, plan changes that cannot
//! erase usage, only finished months closed, a cycle paid once — on SQLite
//! and PostgreSQL.

use std::time::Duration;

use landlord_billing::Period;
use landlord_payments::signature::sign_stripe;
use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{data, token_of};
use crate::support::app::{assert_error, smtp_to};
use crate::support::billing::{organization, usage, NOVEMBER_START, OCTOBER_START};
use crate::support::clock::{now_ms, now_secs, DAY_MS as DAY};
use crate::support::errors::{assert_error_saying, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::payments::{billed, paid_session};
use crate::support::providers::STRIPE_WEBHOOK_SECRET;
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp};

backend_tests!(
    listed_operators_need_a_verified_address_and_are_audited,
    only_finished_months_can_be_closed,
    a_downgrade_waits_for_the_close_and_starter_overage_stays_billed,
    an_upgrade_applies_at_once_and_a_late_close_keeps_the_plans_of_the_month,
    the_free_cap_counts_the_whole_month_whatever_the_plan_before,
    a_second_payment_for_a_paid_cycle_is_a_duplicate_to_refund,
);

async fn listed_operators_need_a_verified_address_and_are_audited(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, |c| {
        smtp_to(c, port);
        c.platform_admins = vec!["ops@example.com".into()];
    })
    .await;
    // Whoever registers the listed address first, in any letter case, is
    // not an operator until the address is verified.
    let registered = app.register("OPS@example.com", "Ops").await;
    let ops = token_of(&registered, "access_token");
    let ops_id = registered["user"]["id"].as_str().unwrap().to_string();
    assert_error_saying(
        app.get_as("/api/v1/admin/figures", &ops).await,
        403,
        "FORBIDDEN",
        "verified",
    )
    .await;
    assert_error(
        app.post_as(
            "/api/v1/admin/billing/close-period",
            &ops,
            &json!({"month": "2026-10"}),
        )
        .await,
        403,
        "FORBIDDEN",
    )
    .await;

    let mail = smtp
        .wait_for_subject("ops@example.com", "Confirm your email")
        .await;
    let verified = app
        .post_json(
            "/api/v1/auth/verify-email",
            &json!({"token": mail.token().expect("a token")}),
        )
        .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(
        app.get_as("/api/v1/admin/figures", &ops).await.status(),
        200
    );

    // Operator actions are audited with the operator as actor.
    let closed = data(
        app.post_as(
            "/api/v1/admin/billing/close-period",
            &ops,
            &json!({"month": "2026-10"}),
        )
        .await,
    )
    .await;
    assert_eq!(closed["period"], "2026-10");
    let discrepancy = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO reconciliation_discrepancies (id, provider, kind, created_at) VALUES ($1, 'stripe', 'amount_mismatch', 1)",
    )
    .bind(&discrepancy)
    .execute(app.db.pool())
    .await
    .unwrap();
    data(
        app.post_as(
            &format!("/api/v1/admin/discrepancies/{discrepancy}/resolve"),
            &ops,
            &json!({}),
        )
        .await,
    )
    .await;
    let entries: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, actor_user_id, target_id FROM audit_log WHERE action LIKE 'admin.%' ORDER BY created_at, id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        entries,
        vec![
            (
                "admin.period_closed".to_string(),
                Some(ops_id.clone()),
                None
            ),
            (
                "admin.discrepancy_resolved".to_string(),
                Some(ops_id.clone()),
                Some(discrepancy)
            ),
        ]
    );
}

async fn only_finished_months_can_be_closed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = app.register("operator@example.com", "Operators").await;
    let ops = token_of(&registered, "access_token");
    // As `landlord make-admin` does.
    sqlx::query("UPDATE users SET platform_admin_at = 1 WHERE email = 'operator@example.com'")
        .execute(app.db.pool())
        .await
        .unwrap();
    let current = Period::containing(now_ms());
    for month in [current, current.next()] {
        let error = assert_invalid_field(
            app.post_as(
                "/api/v1/admin/billing/close-period",
                &ops,
                &json!({"month": month.key()}),
            )
            .await,
            "month",
        )
        .await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not ended"),
            "{error}"
        );
        // No path around it: the close itself refuses.
        assert!(landlord_billing::close_period(&app.db, &app.config, month)
            .await
            .is_err());
    }
    let (cycles,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM billing_cycles")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(cycles, 0, "nothing of the current month was billed");
    // The previous month has ended: it closes.
    let closed = data(
        app.post_as(
            "/api/v1/admin/billing/close-period",
            &ops,
            &json!({"month": current.previous().key()}),
        )
        .await,
    )
    .await;
    assert_eq!(closed["period"], current.previous().key());
}

async fn a_downgrade_waits_for_the_close_and_starter_overage_stays_billed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, id) = organization(&app, "down@example.com", "starter").await;
    usage(&app, &id, 15_000, OCTOBER_START + 10 * DAY).await;

    // The downgrade is scheduled for the end of the period, not applied.
    let change = data(
        app.post_as("/api/v1/billing/upgrade", &token, &json!({"plan": "free"}))
            .await,
    )
    .await;
    let next = Period::containing(now_ms()).next();
    assert_eq!(change["scheduled"], true);
    assert_eq!(change["amount"], 0);
    assert_eq!(
        change["effective_at"],
        landlord_core::time::rfc3339(next.start_ms())
    );
    let calc = data(app.get_as("/api/v1/billing/calculate", &token).await).await;
    assert_eq!(calc["plan"], "starter");
    assert_eq!(calc["scheduled_change"]["plan"], "free");
    let org = data(app.get_as("/api/v1/organization", &token).await).await;
    assert_eq!(org["plan"], "starter");
    assert_eq!(org["scheduled_change"]["plan"], "free");

    // It can be cancelled (once), by an owner.
    let cancelled = data(
        app.delete_as("/api/v1/billing/scheduled-change", &token)
            .await,
    )
    .await;
    assert_eq!(cancelled["plan"], "free");
    assert_error(
        app.delete_as("/api/v1/billing/scheduled-change", &token)
            .await,
        404,
        "NOT_FOUND",
    )
    .await;
    let calc = data(app.get_as("/api/v1/billing/calculate", &token).await).await;
    assert!(calc["scheduled_change"].is_null(), "{calc}");
    let org = data(app.get_as("/api/v1/organization", &token).await).await;
    assert!(org["scheduled_change"].is_null(), "{org}");
    let audited: Vec<(String,)> = sqlx::query_as(
        "SELECT action FROM audit_log WHERE organization_id = $1 AND action LIKE 'billing.plan_change_%' ORDER BY created_at, id",
    )
    .bind(&id)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![
            ("billing.plan_change_scheduled".to_string(),),
            ("billing.plan_change_cancelled".to_string(),)
        ]
    );

    // Scheduled again; the request is moved back to October (as if the
    // owner had asked on the 28th) and October closes.
    data(
        app.post_as("/api/v1/billing/upgrade", &token, &json!({"plan": "free"}))
            .await,
    )
    .await;
    sqlx::query("UPDATE organizations SET scheduled_plan_at = $2 WHERE id = $1")
        .bind(&id)
        .bind(NOVEMBER_START)
        .execute(app.db.pool())
        .await
        .unwrap();
    let october = Period::parse("2026-10").unwrap();
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let cycle = data(app.get_as("/api/v1/billing/history", &token).await).await[0].clone();
    assert_eq!(cycle["plan"], "starter");
    assert_eq!(cycle["overage_requests"], 5_000);
    assert_eq!(cycle["overage_amount"], 5_000);
    assert_eq!(cycle["amount"], 6_000, "starter's overage is still owed");
    // The downgrade was applied by the close, at the end of October, once.
    let org = data(app.get_as("/api/v1/organization", &token).await).await;
    assert_eq!(org["plan"], "free");
    assert!(org["scheduled_change"].is_null());
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let changes: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT from_plan, to_plan, created_at FROM plan_changes WHERE organization_id = $1",
    )
    .bind(&id)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(
        changes,
        vec![("starter".into(), "free".into(), NOVEMBER_START)]
    );
}

async fn an_upgrade_applies_at_once_and_a_late_close_keeps_the_plans_of_the_month(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (token, id) = organization(&app, "late@example.com", "starter").await;
    usage(&app, &id, 15_000, OCTOBER_START + 10 * DAY).await;
    let key = data(
        app.post_as("/api/v1/keys", &token, &json!({"name": "k"}))
            .await,
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let probe = || {
        app.client
            .get(app.url("/api/v1/messages/00000000-0000-7000-8000-000000000000"))
            .header("x-api-key", key.clone())
            .send()
    };
    assert_eq!(probe().await.unwrap().headers()["x-ratelimit-limit"], "60");

    // Upgraded in November, before October is closed.
    let change = data(
        app.post_as("/api/v1/billing/upgrade", &token, &json!({"plan": "pro"}))
            .await,
    )
    .await;
    assert_eq!(change["scheduled"], false);
    assert!(change["amount"].as_i64().unwrap() > 0);
    // Limits at once.
    assert_eq!(probe().await.unwrap().headers()["x-ratelimit-limit"], "300");
    let calc = data(app.get_as("/api/v1/billing/calculate", &token).await).await;
    assert_eq!(calc["plan"], "pro");
    assert_eq!(calc["base_amount"], 1_000, "starter from the 1st");
    assert_eq!(calc["adjustments"], change["amount"]);

    // October was on starter all month: a late close bills starter.
    let october = Period::parse("2026-10").unwrap();
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let cycle = data(app.get_as("/api/v1/billing/history", &token).await).await[0].clone();
    assert_eq!(cycle["plan"], "starter");
    assert_eq!(cycle["amount"], 6_000);

    // Another organization went from starter to pro on 21 October after
    // 15,000 requests: starter's overage stays, plus the prorated
    // difference for the 11 days left of 31: 4,000 × 11 ÷ 31 = 1,419.35…
    let (other, other_id) = organization(&app, "mid@example.com", "starter").await;
    usage(&app, &other_id, 15_000, OCTOBER_START + 4 * DAY).await;
    let day21 = OCTOBER_START + 20 * DAY;
    let mut conn = app.db.pool().acquire().await.unwrap();
    landlord_billing::store::change_plan(
        &mut conn,
        &landlord_core::ids::OrganizationId::from_trusted(other_id.clone()),
        "starter",
        "pro",
        None,
        1_419,
        "USD",
        landlord_core::Timestamp::from_millis(day21),
    )
    .await
    .unwrap();
    drop(conn);
    usage(&app, &other_id, 20_000, day21 + 4 * DAY).await;
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let cycle = data(app.get_as("/api/v1/billing/history", &other).await).await[0].clone();
    assert_eq!(cycle["plan"], "pro");
    assert_eq!(cycle["requests"], 35_000);
    assert_eq!(cycle["base_amount"], 1_000);
    assert_eq!(cycle["adjustments"], 1_419);
    assert_eq!(cycle["overage_amount"], 5_000);
    assert_eq!(cycle["amount"], 7_419);
}

async fn the_free_cap_counts_the_whole_month_whatever_the_plan_before(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.api_key_cache_ms = 50).await;
    let (token, id) = organization(&app, "cap@example.com", "starter").await;
    let key = data(
        app.post_as("/api/v1/keys", &token, &json!({"name": "k"}))
            .await,
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let probe = || {
        app.client
            .get(app.url("/api/v1/messages/00000000-0000-7000-8000-000000000000"))
            .header("x-api-key", key.clone())
            .send()
    };
    // 1,000 requests this month on starter, then one more over HTTP.
    usage(&app, &id, 1_000, now_ms() - 1_000).await;
    assert_ne!(probe().await.unwrap().status(), 429);
    // The organization moves to free (as a scheduled downgrade applied at a
    // month's end, or an operator's set-plan, would): the cap counts the
    // month's requests made before the switch.
    sqlx::query("UPDATE organizations SET plan = 'free' WHERE id = $1")
        .bind(&id)
        .execute(app.db.pool())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    let refused = probe().await.unwrap();
    let body = assert_error(refused, 429, "QUOTA_EXCEEDED").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1000"),
        "{body}"
    );
}

async fn a_second_payment_for_a_paid_cycle_is_a_duplicate_to_refund(backend: Backend) {
    let b = billed(backend, 3).await;
    // Two checkouts started for the same cycle (two tabs), both paid.
    let first = data(b.initiate("stripe", None).await).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let second = data(b.initiate("stripe", None).await).await["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    for (session, event) in [(&first, "evt_a"), (&second, "evt_b")] {
        let body = paid_session(session, &b.cycle_id, &b.organization_id, event);
        let received = b
            .post_stripe(
                &body,
                Some(sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now_secs())),
            )
            .await;
        assert_eq!(received.status(), 200);
    }
    b.wait_for_cycle("paid").await;
    let ops = b.verified_operator().await;
    let listed = eventually(
        "a duplicate_payment discrepancy listed",
        Duration::from_secs(15),
        async || {
            let list = data(b.app.get_as("/api/v1/admin/discrepancies", &ops).await).await;
            list.as_array()
                .unwrap()
                .iter()
                .find(|d| d["kind"] == "duplicate_payment")
                .cloned()
        },
    )
    .await;
    assert_eq!(listed["billing_cycle_id"], b.cycle_id.as_str());
    assert!(listed["theirs"].as_str().unwrap().contains("refund"));
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "SELECT provider_reference, status FROM payments WHERE billing_cycle_id = $1 ORDER BY status",
    )
    .bind(&b.cycle_id)
    .fetch_all(b.app.db.pool())
    .await
    .unwrap();
    let succeeded: Vec<_> = statuses.iter().filter(|(_, s)| s == "succeeded").collect();
    let duplicate: Vec<_> = statuses.iter().filter(|(_, s)| s == "duplicate").collect();
    assert_eq!((succeeded.len(), duplicate.len()), (1, 1), "{statuses:?}");
    assert_eq!(listed["provider_reference"], duplicate[0].0.as_str());
    // One receipt, one payment counted as revenue.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let receipts = b
        .smtp
        .received()
        .iter()
        .filter(|m| m.subject().contains("Receipt"))
        .count();
    assert_eq!(receipts, 1);
    let figures = data(b.app.get_as("/api/v1/admin/figures", &ops).await).await;
    assert_eq!(figures["revenue_this_month"], json!({"USD": 6000}));
    // Reconciliation agrees with a recorded duplicate (Stripe says paid).
    {
        let mut state = b.stand_in.state.lock().unwrap();
        state.paid_sessions.insert(first.clone());
        state.paid_sessions.insert(second.clone());
    }
    let providers = landlord_payments::Providers::from_config(&b.app.config);
    assert_eq!(
        landlord_payments::reconcile(&b.app.db, &providers)
            .await
            .unwrap()
            .recorded,
        0
    );
}
