//! The month close at scale: organizations are closed by chunks (one
//! transaction each, their plans and usage read per chunk). A close of
//! more than one chunk bills every organization exactly as the
//! one-by-one pricing does, once, with one invoice each.

use landlord_billing::pricing::price_period;
use landlord_billing::Period;
use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;

use crate::backend_tests;
use crate::support::billing::{planted_counters, NOVEMBER_START, OCTOBER_START};
use crate::support::{Backend, TestApp};

backend_tests!(a_close_of_several_chunks_bills_each_organization_once_as_priced_alone);

const DAY: i64 = 24 * 3600 * 1000;

/// More than one chunk of the close (1,000 organizations).
const ORGANIZATIONS: usize = 1_250;

/// Inserts `ORGANIZATIONS` organizations by SQL, on plans in turn, each
/// with a billing email; one in fifty created mid-October, one after it.
/// Returns their ids in the database's order.
async fn many_organizations(app: &TestApp) -> Vec<OrganizationId> {
    let plans = ["free", "starter", "pro"];
    let mut tx = app.db.pool().begin().await.expect("organizations");
    for first in (0..ORGANIZATIONS).step_by(250) {
        let rows = (ORGANIZATIONS - first).min(250);
        let values: Vec<String> = (0..rows)
            .map(|i| {
                let p = i * 5;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for n in first..first + rows {
            let created_at = match n % 50 {
                7 => OCTOBER_START + 10 * DAY,
                8 => NOVEMBER_START + 1,
                _ => OCTOBER_START - 1,
            };
            query = query
                .bind(OrganizationId::generate())
                .bind(format!("Chunked {n}"))
                .bind(format!("billing{n}@example.com"))
                .bind(plans[n % plans.len()])
                .bind(created_at);
        }
        query.execute(&mut *tx).await.expect("organizations");
    }
    tx.commit().await.expect("organizations");
    sqlx::query_as::<_, (OrganizationId,)>("SELECT id FROM organizations ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .expect("organizations")
        .into_iter()
        .map(|(id,)| id)
        .collect()
}

async fn a_close_of_several_chunks_bills_each_organization_once_as_priced_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = many_organizations(&app).await;
    // Usage in October (some over starter's allowance), and some outside
    // it that must not count.
    for (n, id) in ids.iter().enumerate() {
        let requests = (n as i64 * 37) % 16_000;
        planted_counters(&app, id.as_str(), "", requests, OCTOBER_START + 3 * DAY).await;
        if n % 10 == 0 {
            planted_counters(&app, id.as_str(), "", 500, NOVEMBER_START).await;
            planted_counters(&app, id.as_str(), "", 500, OCTOBER_START - 1).await;
        }
    }
    // Plan changes mid-month on both sides of the chunks' boundary, with
    // usage after them.
    let changed = [0, 998, 999, 1_000, 1_001, ids.len() - 1];
    for &n in &changed {
        let at = Timestamp::from_millis(OCTOBER_START + 20 * DAY + 1_234);
        let mut conn = app.db.pool().acquire().await.expect("a connection");
        let (plan,): (String,) = sqlx::query_as("SELECT plan FROM organizations WHERE id = $1")
            .bind(&ids[n])
            .fetch_one(&mut *conn)
            .await
            .expect("the plan");
        let to = if plan == "pro" { "starter" } else { "pro" };
        landlord_billing::store::change_plan(&mut conn, &ids[n], &plan, to, None, 0, "USD", at)
            .await
            .expect("a plan change");
        planted_counters(&app, ids[n].as_str(), "", 2_000, at.millis() + DAY).await;
    }

    // Two instances at once, then again: each organization closed once.
    let october = Period::parse("2026-10").expect("a month");
    let (a, b) = tokio::join!(
        landlord_billing::close_period(&app.db, &app.config, october),
        landlord_billing::close_period(&app.db, &app.config, october),
    );
    let (a, b) = (a.expect("a close"), b.expect("a close"));
    let closable = ORGANIZATIONS - ORGANIZATIONS.div_ceil(50);
    assert_eq!((a.created + b.created) as usize, closable, "{a:?} {b:?}");
    let again = landlord_billing::close_period(&app.db, &app.config, october)
        .await
        .expect("a close");
    assert_eq!((again.created, again.existing as usize), (0, closable));

    // Each cycle as the one-by-one pricing makes it.
    let cycles: Vec<(OrganizationId, String, i64, i64)> = sqlx::query_as(
        "SELECT organization_id, plan, requests, amount FROM billing_cycles ORDER BY organization_id",
    )
    .fetch_all(app.db.pool())
    .await
    .expect("cycles");
    assert_eq!(cycles.len(), closable);
    let mut conn = app.db.pool().acquire().await.expect("a connection");
    let mut payable = 0;
    for (id, plan, requests, amount) in &cycles {
        let (current, created_at): (String, Timestamp) =
            sqlx::query_as("SELECT plan, created_at FROM organizations WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await
                .expect("the organization");
        let stretches = landlord_billing::store::plan_stretches(
            &mut conn,
            id,
            &current,
            october.start(),
            october.end(),
        )
        .await
        .expect("stretches");
        let alone = price_period(
            october.start_ms(),
            october.end_ms(),
            created_at.millis(),
            &stretches,
            &app.config.plans,
        )
        .expect("a price");
        assert_eq!(
            (plan, *requests, *amount),
            (&alone.plan, alone.requests, alone.amount),
            "{id}"
        );
        if *amount > 0 {
            payable += 1;
        }
    }
    let changed_requests: Vec<i64> = changed
        .iter()
        .filter_map(|&n| cycles.iter().find(|c| c.0 == ids[n]).map(|c| c.2))
        .collect();
    assert!(
        changed_requests.iter().all(|&r| r >= 2_000),
        "{changed_requests:?}"
    );

    // One invoice per payable cycle, none twice.
    let (invoices,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'mail.send' AND payload LIKE '%\"invoice\"%'",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("invoices");
    assert_eq!(invoices, payable);
    assert!(payable > 500, "{payable}");
}
