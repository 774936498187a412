//! Usage counters: several instances add to the same hour,
//! the raw request log may be off, its retention purge keeps the counters,
//! and a plan change mid-hour still bills each stretch on its plan.

use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::Timestamp;
use landlord_metering::UsageRecord;
use serde_json::json;

use crate::backend_tests;
use crate::support::accounts::signed_in;
use crate::support::app::json;
use crate::support::billing::{organization, OCTOBER_START};
use crate::support::eventually::eventually;
use crate::support::keys::{create_key, set_plan};
use crate::support::{Backend, TestApp};

backend_tests!(
    two_instances_add_to_the_same_hours_counters_without_losing_any,
    with_the_raw_log_off_usage_is_counted_limited_and_billed_exactly,
    the_retention_purge_deletes_old_raw_rows_and_keeps_the_counters,
    a_plan_change_mid_hour_bills_each_stretch_on_its_plan,
);

const DAY: i64 = 24 * 3600 * 1000;
const MISSING_MESSAGE: &str = "/api/v1/messages/00000000-0000-7000-8000-000000000000";

/// A second server on `first`'s database.
async fn second_instance(first: &TestApp) -> TestApp {
    let database = first.database_url();
    TestApp::spawn_with(first.backend, |c| c.database_url = Some(database)).await
}

/// Requests the counters hold for the organization.
async fn counted(app: &TestApp, organization_id: &str) -> i64 {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly WHERE organization_id = $1",
    )
    .bind(organization_id)
    .fetch_one(app.db.pool())
    .await
    .expect("counted usage");
    count
}

/// Waits until the counters hold `n` requests, then a little longer so a
/// late flush would show as an over-count; returns the count then.
async fn wait_for_counted(app: &TestApp, organization_id: &str, n: i64) -> i64 {
    eventually(
        format_args!("{n} counted requests"),
        std::time::Duration::from_secs(10),
        async || (counted(app, organization_id).await >= n).then_some(()),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    counted(app, organization_id).await
}

/// `n` records of the key at `at`.
fn records(org: &str, key: &str, n: usize, at: i64) -> Vec<UsageRecord> {
    let record = UsageRecord {
        caller: landlord_metering::UsageCaller::new(
            OrganizationId::from_trusted(org.to_string()),
            ApiKeyId::from_trusted(key.to_string()),
        ),
        endpoint: "/api/v1/messages/send".into(),
        method: "POST".into(),
        status: 202,
        at: Timestamp::from_millis(at),
        app_id: None,
    };
    vec![record; n]
}

async fn write(app: &TestApp, records: &[UsageRecord], raw_log: bool) {
    landlord_metering::write_batch(&app.db, records, raw_log, &landlord_keys::LastUsed)
        .await
        .expect("usage written");
}

async fn two_instances_add_to_the_same_hours_counters_without_losing_any(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let second = second_instance(&first).await;
    let (token, data) = signed_in(&first, "twice@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    set_plan(&first, &org, "pro").await;
    let key = create_key(&first, &token, json!({"name": "k"})).await;
    let (key_id, secret) = (
        key["id"].as_str().unwrap().to_string(),
        key["key"].as_str().unwrap().to_string(),
    );

    // Requests answered by both servers land in the same hour's rows.
    let mut answered = 0;
    for n in 0..40 {
        let server = if n % 2 == 0 { &first } else { &second };
        let response = server
            .with_key(reqwest::Method::GET, MISSING_MESSAGE, &secret)
            .await;
        assert_eq!(response.status(), 404);
        answered += 1;
    }
    assert_eq!(wait_for_counted(&first, &org, answered).await, answered);
    assert_eq!(
        first.usage_count(&org).await,
        answered,
        "the raw log agrees"
    );

    // Both instances' writers upserting the same rows at once lose nothing.
    let at = Timestamp::now().millis();
    let mut writers = Vec::new();
    for n in 0..8 {
        let db = if n % 2 == 0 {
            first.db.clone()
        } else {
            second.db.clone()
        };
        let batch = records(&org, &key_id, 50, at);
        writers.push(tokio::spawn(async move {
            for _ in 0..5 {
                landlord_metering::write_batch(&db, &batch, false, &landlord_keys::LastUsed)
                    .await
                    .expect("usage written");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(counted(&first, &org).await, answered + 8 * 5 * 50);
    let usage = json(first.get_as("/api/v1/billing/usage", &token).await).await;
    assert_eq!(usage["data"]["used"], answered + 2_000);
}

async fn with_the_raw_log_off_usage_is_counted_limited_and_billed_exactly(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.usage_raw_log = false).await;
    let (token, data) = signed_in(&app, "unlogged@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &token, json!({"name": "k"})).await;
    let secret = key["key"].as_str().unwrap();
    // 995 requests already counted this month: the quota starts from them.
    write(
        &app,
        &records(
            &org,
            key["id"].as_str().unwrap(),
            995,
            Timestamp::now().millis(),
        ),
        false,
    )
    .await;
    for n in 996..=1000 {
        let response = app
            .with_key(reqwest::Method::GET, MISSING_MESSAGE, secret)
            .await;
        assert_eq!(response.status(), 404, "request {n}");
    }
    let over = app
        .with_key(reqwest::Method::GET, MISSING_MESSAGE, secret)
        .await;
    assert_eq!(over.status(), 429, "the free plan stops at 1,000");
    assert_eq!(wait_for_counted(&app, &org, 1000).await, 1000);
    assert_eq!(app.usage_count(&org).await, 0, "no raw row written");
    let usage = json(app.get_as("/api/v1/billing/usage", &token).await).await;
    assert_eq!(usage["data"]["used"], 1000);
    assert_eq!(usage["data"]["remaining"], 0);
    let stats = json(app.get_as("/api/v1/dashboard/stats", &token).await).await;
    assert_eq!(stats["data"]["requests_this_month"], 1000);

    // A month closed from the counters alone.
    let (starter, starter_id) = organization(&app, "starter@example.com", "starter").await;
    write(
        &app,
        &records(
            &starter_id,
            key["id"].as_str().unwrap(),
            15_000,
            OCTOBER_START + 4 * DAY,
        ),
        false,
    )
    .await;
    let october = landlord_billing::Period::parse("2026-10").unwrap();
    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let history = json(app.get_as("/api/v1/billing/history", &starter).await).await;
    assert_eq!(history["data"][0]["requests"], 15_000);
    assert_eq!(history["data"][0]["amount"], 6_000);
}

async fn the_retention_purge_deletes_old_raw_rows_and_keeps_the_counters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, data) = signed_in(&app, "kept@example.com").await;
    let org = data["organization"]["id"].as_str().unwrap().to_string();
    let key = create_key(&app, &token, json!({"name": "k"})).await;
    let key_id = key["id"].as_str().unwrap();
    let now = Timestamp::now().millis();
    write(&app, &records(&org, key_id, 3, now - 40 * DAY), true).await;
    write(&app, &records(&org, key_id, 2, now - DAY), true).await;
    assert_eq!(app.usage_count(&org).await, 5);

    landlord::maintenance::purge_keeping_raw_usage(&app.db, 30)
        .await
        .unwrap();
    assert_eq!(app.usage_count(&org).await, 2, "raw rows past 30 days went");
    assert_eq!(counted(&app, &org).await, 5, "the counters stay");
}

async fn a_plan_change_mid_hour_bills_each_stretch_on_its_plan(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, org) = organization(&app, "midhour@example.com", "starter").await;
    let key = create_key(&app, &token, json!({"name": "k"})).await;
    let key_id = key["id"].as_str().unwrap();
    // Starter to pro on 21 October at 10:37:12.345, usage on both sides of
    // that instant within the hour, written before and after the change.
    let hour = OCTOBER_START + 20 * DAY + 10 * 3_600_000;
    let change = hour + 37 * 60_000 + 12_345;
    write(
        &app,
        &records(&org, key_id, 14_899, OCTOBER_START + 4 * DAY),
        true,
    )
    .await;
    write(&app, &records(&org, key_id, 100, hour + 20 * 60_000), true).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    let org_id = OrganizationId::from_trusted(org.clone());
    landlord_billing::store::change_plan(
        &mut conn,
        &org_id,
        "starter",
        "pro",
        None,
        1_419,
        "USD",
        Timestamp::from_millis(change),
    )
    .await
    .unwrap();
    write(&app, &records(&org, key_id, 1, change - 1), true).await;
    write(&app, &records(&org, key_id, 1, change), true).await;
    write(
        &app,
        &records(&org, key_id, 19_999, hour + 50 * 60_000),
        true,
    )
    .await;

    let october = landlord_billing::Period::parse("2026-10").unwrap();
    let stretches = landlord_billing::store::plan_stretches(
        &mut conn,
        &org_id,
        "pro",
        Timestamp::from_millis(october.start_ms()),
        Timestamp::from_millis(october.end_ms()),
    )
    .await
    .unwrap();
    let counts: Vec<(&str, i64, i64)> = stretches
        .iter()
        .map(|s| (s.plan.as_str(), s.from_ms, s.requests))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("starter", october.start_ms(), 15_000),
            ("pro", change, 20_000)
        ]
    );
    // The raw log, counted at the instant, agrees.
    let (before,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND created_at < $2",
    )
    .bind(&org)
    .bind(change)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(before, 15_000);
    drop(conn);

    landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .unwrap();
    let cycle = json(app.get_as("/api/v1/billing/history", &token).await).await["data"][0].clone();
    assert_eq!(cycle["plan"], "pro");
    assert_eq!(cycle["requests"], 35_000);
    assert_eq!(cycle["base_amount"], 1_000);
    // Starter's overage on its 15,000, none on pro's 20,000; the prorated
    // difference follows the change's instant.
    assert_eq!(cycle["overage_amount"], 5_000);
    let adjustments = cycle["adjustments"].as_i64().unwrap();
    assert_eq!(cycle["amount"], 6_000 + adjustments);
}
