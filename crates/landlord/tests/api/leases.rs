//! Short leases that a dead instance cannot hold for long: a job is leased
//! as it starts and its lease renewed while it runs (so a job slower than
//! its lease still runs once, whatever the number of instances), a job
//! whose instance died is taken over once its lease lapses, and an
//! `Idempotency-Key` claim a dead request left is taken over by a retry —
//! while a live one still answers 409. On SQLite and PostgreSQL.

use std::time::Duration;

use landlord_jobs::NewJob;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::app::{assert_error, json};
use crate::support::clock::now_ms;
use crate::support::eventually::eventually;
use crate::support::payments::billed;
use crate::support::{Backend, TestApp};

backend_tests!(
    a_job_slower_than_its_lease_runs_once_across_two_instances,
    a_dead_instances_job_is_taken_over_once_its_lease_lapses,
    a_retry_takes_over_a_dead_requests_key_but_not_a_live_ones,
);

/// A second instance on `first`'s database.
async fn second_instance(first: &TestApp, lease_secs: u64) -> TestApp {
    let url = first.database_url();
    TestApp::spawn_with(first.backend, |c| {
        c.database_url = Some(url);
        c.jobs_lease_secs = lease_secs;
    })
    .await
}

/// How many times the test job kind ran under `marker` (either instance
/// answers for the whole process).
async fn runs(app: &TestApp, marker: &str) -> u64 {
    json(app.get(&format!("/__test/jobs/runs?marker={marker}")).await).await["data"]
        .as_u64()
        .unwrap()
}

/// The (status, attempts) of every job of the test kind under `marker`.
async fn jobs_of(app: &TestApp, marker: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT status, attempts FROM jobs WHERE kind = 'test.slow' AND payload LIKE $1")
        .bind(format!("%{marker}%"))
        .fetch_all(app.db.pool())
        .await
        .unwrap()
}

async fn a_job_slower_than_its_lease_runs_once_across_two_instances(backend: Backend) {
    let first = TestApp::spawn_with(backend, |c| c.jobs_lease_secs = 1).await;
    let second = second_instance(&first, 1).await;
    let marker = uuid::Uuid::now_v7().simple().to_string();
    // Each job runs two and a half leases: without renewals the other
    // instance would claim it again (and run it twice).
    for _ in 0..4 {
        landlord_jobs::enqueue(
            first.db.pool(),
            NewJob::new("test.slow", json!({"marker": marker, "sleep_ms": 2_500})),
        )
        .await
        .unwrap();
    }
    let jobs = eventually("the four jobs done", Duration::from_secs(60), async || {
        let jobs = jobs_of(&first, &marker).await;
        jobs.iter()
            .all(|(status, _)| status == "done")
            .then_some(jobs)
    })
    .await;
    assert_eq!(jobs.len(), 4);
    assert!(
        jobs.iter().all(|(_, attempts)| *attempts == 1),
        "each claimed once: {jobs:?}"
    );
    assert_eq!(runs(&second, &marker).await, 4, "each job ran once");
}

async fn a_dead_instances_job_is_taken_over_once_its_lease_lapses(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.jobs_lease_secs = 2).await;
    let marker = uuid::Uuid::now_v7().simple().to_string();
    // An instance claimed the job under a two-second lease, then died: the
    // job stays `running` under its name and is never finished by it.
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, run_at, locked_by, locked_until, \
         lease_token, created_at, updated_at) \
         VALUES ($1, 'test.slow', $2, 'running', 1, $3, 'dead-instance', $4, 'dead-claim', $3, $3)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(json!({"marker": marker, "sleep_ms": 0}).to_string())
    .bind(now)
    .bind(now + 2_000)
    .execute(app.db.pool())
    .await
    .unwrap();
    // Taken over within its lease's lapse (well before a minute), and run once.
    let jobs = eventually(
        "the dead instance's job taken over and done",
        Duration::from_secs(20),
        async || {
            let jobs = jobs_of(&app, &marker).await;
            (jobs.first().map(|(s, _)| s.as_str()) == Some("done")).then_some(jobs)
        },
    )
    .await;
    assert_eq!(jobs, vec![("done".to_string(), 2)]);
    assert_eq!(runs(&app, &marker).await, 1);
}

/// Plants the claim a request left on `POST /billing/initiate-payment`
/// with `key` and `body`, its lease holding until `locked_until` (ms).
async fn plant_claim(
    app: &TestApp,
    organization_id: &str,
    key: &str,
    body: &Value,
    locked_until: i64,
) {
    let hash = landlord_core::crypto::sha256_hex(&serde_json::to_string(body).unwrap());
    let now = now_ms();
    sqlx::query(
        "INSERT INTO idempotency_keys (id, organization_id, idempotency_key, route, request_hash, \
         created_at, expires_at, locked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(organization_id)
    .bind(key)
    .bind("POST /billing/initiate-payment")
    .bind(hash)
    .bind(now - 60_000)
    .bind(now + 24 * 3600 * 1000)
    .bind(locked_until)
    .execute(app.db.pool())
    .await
    .unwrap();
}

async fn a_retry_takes_over_a_dead_requests_key_but_not_a_live_ones(backend: Backend) {
    let b = billed(backend, 3).await;
    let body = json!({"billing_cycle_id": b.cycle_id, "provider": "paystack"});
    // A request still running elsewhere (its lease renewed a moment ago).
    plant_claim(
        &b.app,
        &b.organization_id,
        "live-key",
        &body,
        now_ms() + 30_000,
    )
    .await;
    let conflict = b.initiate("paystack", Some("live-key")).await;
    let refused = assert_error(conflict, 409, "IDEMPOTENCY_CONFLICT").await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still being processed"),
        "{refused}"
    );
    assert!(b.stand_in.state.lock().unwrap().transactions.is_empty());

    // A request whose instance died: its lease lapsed a moment ago.
    plant_claim(&b.app, &b.organization_id, "dead-key", &body, now_ms() - 1).await;
    let retried = b.initiate("paystack", Some("dead-key")).await;
    assert_eq!(retried.status(), 200, "the retry runs instead of a 409");
    let first = json(retried).await;
    assert!(first["data"]["checkout_url"].is_string(), "{first}");
    // From then on the key replays that answer, and the provider was
    // asked once.
    let again = json(b.initiate("paystack", Some("dead-key")).await).await;
    assert_eq!(first, again);
    assert_eq!(b.stand_in.state.lock().unwrap().transactions.len(), 1);
}
