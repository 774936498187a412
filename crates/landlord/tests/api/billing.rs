//! Billing cycles, plan changes and overdue notices — on SQLite and
//! PostgreSQL, with invoices received over SMTP.

use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::{app_with_smtp, token_of};
use crate::support::app::{assert_error, json};
use crate::support::billing::{
    change_plan, free_owner_with_key, history, organization, rate_limit_of, usage, NOVEMBER_START,
    OCTOBER_START,
};
use crate::support::errors::{assert_error_saying, assert_rate_limited};
use crate::support::eventually::eventually;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_month_is_closed_with_the_right_amounts_once,
    overdue_cycles_are_marked_and_their_owners_mailed,
    an_admin_may_view_billing_but_not_change_the_plan,
    an_upgrade_applies_new_limits_at_once_prorated_and_audited,
    a_downgrade_waits_for_the_end_of_the_period,
    an_unknown_plan_is_refused,
    the_current_plan_cannot_be_chosen_again,
    plan_changes_are_limited_to_3_a_minute,
    the_current_period_is_calculated_with_the_same_formula,
);

async fn a_month_is_closed_with_the_right_amounts_once(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let (free, free_id) = organization(&app, "free@example.com", "free").await;
    let (starter, starter_id) = organization(&app, "starter@example.com", "starter").await;
    let (pro, pro_id) = organization(&app, "pro@example.com", "pro").await;
    let mid_october = OCTOBER_START + 10 * 24 * 3600 * 1000;
    usage(&app, &free_id, 700, mid_october).await;
    usage(&app, &starter_id, 15_000, mid_october).await;
    usage(&app, &pro_id, 20_000, mid_october).await;
    // Requests outside the month do not count.
    usage(&app, &starter_id, 50, NOVEMBER_START + 1000).await;
    usage(&app, &starter_id, 50, OCTOBER_START - 1000).await;

    // Two closes at the same moment (as two instances would) make one cycle each.
    let october = landlord_billing::Period::parse("2026-10").unwrap();
    let (a, b) = tokio::join!(
        landlord_billing::close_period(&app.db, &app.config, october),
        landlord_billing::close_period(&app.db, &app.config, october),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.created + b.created, 3, "{a:?} {b:?}");
    let again = landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    assert_eq!((again.created, again.existing), (0, 3));
    let (cycles,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM billing_cycles")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(cycles, 3);

    let starter_cycle = history(&app, &starter).await[0].clone();
    assert_eq!(starter_cycle["period"], "2026-10");
    assert_eq!(starter_cycle["plan"], "starter");
    assert_eq!(starter_cycle["requests"], 15_000);
    assert_eq!(starter_cycle["included"], 10_000);
    assert_eq!(starter_cycle["overage_requests"], 5_000);
    assert_eq!(starter_cycle["base_amount"], 1_000);
    assert_eq!(starter_cycle["overage_amount"], 5_000);
    assert_eq!(
        starter_cycle["amount"], 6_000,
        "$10 + 5,000 × $0.01 = $60.00"
    );
    assert_eq!(starter_cycle["amount_display"], "60.00 USD");
    assert_eq!(starter_cycle["currency"], "USD");
    assert_eq!(starter_cycle["status"], "pending");
    let due = starter_cycle["due_at"].as_str().unwrap();
    assert!(due > starter_cycle["created_at"].as_str().unwrap());

    let pro_cycle = history(&app, &pro).await[0].clone();
    assert_eq!(
        (
            pro_cycle["amount"].clone(),
            pro_cycle["overage_amount"].clone()
        ),
        (json!(5_000), json!(0))
    );
    assert!(pro_cycle["included"].is_null());
    assert_eq!(pro_cycle["status"], "pending");

    // Zero-amount cycles ask nobody to pay.
    let free_cycle = history(&app, &free).await[0].clone();
    assert_eq!(free_cycle["amount"], 0);
    assert_eq!(free_cycle["requests"], 700);
    assert_eq!(free_cycle["status"], "paid");

    // Invoices go out through the outbox; none for the free organization.
    let invoice = smtp
        .wait_for_subject("starter@example.com", "invoice for 2026-10")
        .await;
    assert!(
        invoice.subject().contains("60.00 USD"),
        "{}",
        invoice.subject()
    );
    smtp.wait_for_subject("pro@example.com", "invoice for 2026-10")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(smtp
        .received()
        .iter()
        .all(|m| !(m.to.contains(&"free@example.com".to_string())
            && m.subject().contains("invoice"))));

    // Another organization's cycles are not listed.
    assert!(history(&app, &free)
        .await
        .iter()
        .all(|c| c["id"] != starter_cycle["id"]));
    assert_error(
        app.get("/api/v1/billing/history").await,
        401,
        "UNAUTHORIZED",
    )
    .await;
}

async fn overdue_cycles_are_marked_and_their_owners_mailed(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let (token, id) = organization(&app, "late@example.com", "starter").await;
    usage(&app, &id, 12_000, OCTOBER_START + 1000).await;
    let october = landlord_billing::Period::parse("2026-10").unwrap();
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    assert_eq!(
        landlord_billing::mark_overdue(&app.db, &app.config)
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    sqlx::query("UPDATE billing_cycles SET due_at = 1 WHERE organization_id = $1")
        .bind(&id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        landlord_billing::mark_overdue(&app.db, &app.config)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        landlord_billing::mark_overdue(&app.db, &app.config)
            .await
            .unwrap(),
        0,
        "once"
    );
    let cycle = history(&app, &token).await[0].clone();
    assert_eq!(cycle["status"], "overdue");
    assert_eq!(cycle["amount"], 3_000);
    let mail = smtp
        .wait_for_subject("late@example.com", "Payment overdue")
        .await;
    assert!(mail.subject().contains("30.00 USD"), "{}", mail.subject());
}

async fn an_admin_may_view_billing_but_not_change_the_plan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, org, _) = free_owner_with_key(&app).await;
    let admin_data = app.register("admin@example.com", "Elsewhere").await;
    app.add_membership(&org, &token_of(&admin_data["user"], "id"), "admin")
        .await;
    let switched = json(
        app.post_as(
            "/api/v1/auth/switch-organization",
            &token_of(&admin_data, "access_token"),
            &json!({"organization_id": org}),
        )
        .await,
    )
    .await;
    let admin = token_of(&switched["data"], "access_token");
    let refused = change_plan(&app, &admin, "starter").await;
    assert_error_saying(refused, 403, "FORBIDDEN", "upgrade_plan").await;
    assert_eq!(
        app.get_as("/api/v1/billing/history", &admin).await.status(),
        200
    );
}

async fn an_upgrade_applies_new_limits_at_once_prorated_and_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _, key) = free_owner_with_key(&app).await;
    assert_eq!(rate_limit_of(&app, &key).await, "10");

    let changed = change_plan(&app, &owner, "starter").await;
    assert_eq!(changed.status(), 200);
    let change = json(changed).await["data"].clone();
    assert_eq!(
        (change["from_plan"].clone(), change["to_plan"].clone()),
        (json!("free"), json!("starter"))
    );
    let amount = change["amount"].as_i64().unwrap();
    assert!(
        amount > 0 && amount <= 1_000,
        "prorated share of $10: {amount}"
    );
    // New limits at once.
    assert_eq!(rate_limit_of(&app, &key).await, "60");
    let (action,): (String,) =
        sqlx::query_as("SELECT action FROM audit_log WHERE action = 'billing.plan_changed'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(action, "billing.plan_changed");
}

/// A downgrade waits for the end of the period (issue 9): no credit, the
/// month stays on the higher plan, limits included.
async fn a_downgrade_waits_for_the_end_of_the_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _, key) = free_owner_with_key(&app).await;
    assert_eq!(change_plan(&app, &owner, "starter").await.status(), 200);
    let down = json(change_plan(&app, &owner, "free").await).await;
    assert_eq!(down["data"]["amount"], 0);
    assert_eq!(down["data"]["scheduled"], true);
    assert_eq!(rate_limit_of(&app, &key).await, "60");
}

async fn an_unknown_plan_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _, _) = free_owner_with_key(&app).await;
    let refused = change_plan(&app, &owner, "platinum").await;
    let error = assert_error_saying(refused, 422, "VALIDATION_ERROR", "not a plan").await;
    assert_eq!(error["error"]["details"]["fields"][0]["field"], "plan");
}

async fn the_current_plan_cannot_be_chosen_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = token_of(
        &app.register("other@example.com", "Other").await,
        "access_token",
    );
    let refused = change_plan(&app, &other, "free").await;
    assert_error_saying(refused, 422, "VALIDATION_ERROR", "already").await;
}

/// At most 3 attempts a minute per organization, refused ones included.
async fn plan_changes_are_limited_to_3_a_minute(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, _, _) = free_owner_with_key(&app).await;
    for plan in ["starter", "free", "platinum"] {
        change_plan(&app, &owner, plan).await;
    }
    let limited = change_plan(&app, &owner, "pro").await;
    assert_rate_limited(limited).await;
}

async fn the_current_period_is_calculated_with_the_same_formula(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, id) = organization(&app, "calc@example.com", "starter").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    usage(&app, &id, 10_250, now - 1000).await;
    let calc = json(app.get_as("/api/v1/billing/calculate", &token).await).await["data"].clone();
    assert_eq!(calc["plan"], "starter");
    assert_eq!(calc["requests"], 10_250);
    assert_eq!(calc["overage_requests"], 250);
    assert_eq!(calc["overage_amount"], 250);
    assert_eq!(calc["base_amount"], 1_000);
    assert_eq!(calc["amount"], 1_250);
    assert_eq!(calc["amount_display"], "12.50 USD");
}

#[tokio::test]
async fn the_schedule_closes_the_previous_month_once_whatever_the_instances() {
    let first = TestApp::spawn_with(Backend::Sqlite, |c| c.billing_schedule = true).await;
    let database = format!(
        "sqlite://{}?mode=rwc",
        first.data_dir().join("landlord.db").display()
    );
    // A second instance on the same database runs the same schedule.
    let _second = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.billing_schedule = true;
        c.database_url = Some(database.into());
    })
    .await;
    landlord_billing::schedule::enqueue_due(&first.db)
        .await
        .unwrap();
    let jobs = eventually(
        "the scheduled close to run",
        std::time::Duration::from_secs(10),
        async || {
            let jobs: Vec<(String, String)> = sqlx::query_as(
                "SELECT unique_key, status FROM jobs WHERE kind = 'billing.close_period'",
            )
            .fetch_all(first.db.pool())
            .await
            .unwrap();
            assert!(jobs.len() <= 1, "one close per month: {jobs:?}");
            jobs.first()
                .is_some_and(|(_, status)| status == "done")
                .then_some(jobs)
        },
    )
    .await;
    assert!(jobs[0].0.starts_with("billing.close_period:20"), "{jobs:?}");
    let (overdue,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'billing.mark_overdue'")
            .fetch_one(first.db.pool())
            .await
            .unwrap();
    assert_eq!(overdue, 1, "one overdue check per day");
}
