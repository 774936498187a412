//! The jobs table: enqueueing, claiming, recording outcomes, replaying,
//! and purging finished jobs. The only SQL of the queue.

use landlord_core::config::DatabaseKind;
use landlord_core::db::values_placeholders;
use landlord_core::ids::JobId;
use landlord_core::{Db, Timestamp};
use sqlx::{Any, AnyConnection, Executor};

landlord_core::text_enum!(
    /// Where a job is in its life.
    pub enum JobStatus {
        Pending = "pending",
        Running = "running",
        Done = "done",
        /// Failed its last attempt; waits for an operator's replay.
        Dead = "dead",
    }
);

/// A job to add to the queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Now when `None`.
    pub run_at: Option<Timestamp>,
    /// Attempts before dead-lettering; the worker's setting when `None`.
    pub max_attempts: Option<u32>,
    /// At most one job ever exists with this key (for schedules).
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            run_at: None,
            max_attempts: None,
            unique_key: None,
        }
    }
}

/// Adds `job` through `executor` — pass the transaction of the change that
/// causes it. Returns the job id, or `None` when `unique_key` already exists.
pub async fn enqueue<'c, E>(executor: E, job: NewJob) -> Result<Option<JobId>, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let id = JobId::generate();
    let now = Timestamp::now();
    let trace = landlord_core::telemetry::traceparent();
    let result = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, unique_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $8) \
         ON CONFLICT (unique_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&job.kind)
    .bind(stored_payload(&job.payload, &trace))
    .bind(JobStatus::Pending)
    .bind(job.max_attempts.map(i64::from))
    .bind(job.run_at.unwrap_or(now))
    .bind(job.unique_key)
    .bind(now)
    .execute(executor)
    .await?;
    Ok((result.rows_affected() == 1).then_some(id))
}

/// The key of a job's payload that carries the W3C `traceparent` of the
/// span that queued it, when traces are exported; the worker takes it out
/// before the handler sees the payload.
pub const TRACEPARENT_KEY: &str = "_traceparent";

/// The payload as stored: with the queuing span's `traceparent` when
/// there is one (traces on) and the payload is an object.
fn stored_payload(payload: &serde_json::Value, traceparent: &Option<String>) -> String {
    match (payload, traceparent) {
        (serde_json::Value::Object(fields), Some(traceparent)) => {
            let mut fields = fields.clone();
            fields.insert(
                TRACEPARENT_KEY.to_string(),
                serde_json::Value::String(traceparent.clone()),
            );
            serde_json::Value::Object(fields).to_string()
        }
        _ => payload.to_string(),
    }
}

/// Parameters per row of [`enqueue_many`] (attempts start at the column's 0).
const ENQUEUE_COLUMNS: usize = 9;

/// Rows per statement of [`enqueue_many`]: 9,000 parameters, well under the
/// databases' limits on bound parameters (SQLite: 32,766).
const ENQUEUE_ROWS: usize = 1_000;

/// Adds `jobs` through `conn` — the transaction of the change that causes
/// them — in multi-row statements (one per thousand jobs): what a batch
/// (the month close's invoices) queues in a few round trips. Jobs whose
/// `unique_key` already exists are skipped. Returns how many were added.
pub async fn enqueue_many(conn: &mut AnyConnection, jobs: &[NewJob]) -> Result<u64, sqlx::Error> {
    let now = Timestamp::now();
    let trace = landlord_core::telemetry::traceparent();
    let mut added = 0;
    for chunk in jobs.chunks(ENQUEUE_ROWS) {
        let values = values_placeholders(conn, chunk.len(), ENQUEUE_COLUMNS);
        let sql = format!(
            "INSERT INTO jobs (id, kind, payload, status, max_attempts, run_at, unique_key, created_at, updated_at) \
             VALUES {values} ON CONFLICT (unique_key) DO NOTHING"
        );
        let mut query = sqlx::query(&sql);
        for job in chunk {
            query = query
                .bind(JobId::generate())
                .bind(&job.kind)
                .bind(stored_payload(&job.payload, &trace))
                .bind(JobStatus::Pending)
                .bind(job.max_attempts.map(i64::from))
                .bind(job.run_at.unwrap_or(now))
                .bind(&job.unique_key)
                .bind(now)
                .bind(now);
        }
        added += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}

/// A job claimed by a worker.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub max_attempts: Option<i64>,
    /// This claim's own token: renewals and outcomes apply only while the
    /// job still carries it (a lease that lapsed and was claimed again by
    /// another worker, or by this one, has another).
    pub lease_token: String,
}

/// Who holds a claim: the worker instance and the claim's token.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    pub worker: &'a str,
    pub lease_token: &'a str,
}

impl<'a> Holder<'a> {
    pub fn of(worker: &'a str, job: &'a ClaimedJob) -> Self {
        Self {
            worker,
            lease_token: &job.lease_token,
        }
    }
}

/// Claims the next due job (or one whose lease ran out: its worker is
/// presumed dead) for `worker` until `lease_until`. One job per claim, so
/// that a job's lease starts when it does. On PostgreSQL `SKIP LOCKED`
/// keeps two instances off the same row; SQLite has a single writer.
pub async fn claim_one(
    db: &Db,
    worker: &str,
    lease_until: Timestamp,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    let lock = match db.backend() {
        DatabaseKind::Postgres => " FOR UPDATE SKIP LOCKED",
        DatabaseKind::Sqlite => "",
    };
    // The earliest of two candidates, each the first of an index walk: the
    // next due pending job (`jobs_due`) and the running job whose lease
    // lapsed first (`jobs_lapsed`). One condition with an OR gathered and
    // sorted every due job to take one, so a backlog drained in quadratic
    // time.
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, lease_token = $4, \
             attempts = attempts + 1, updated_at = $3 \
         WHERE id IN (SELECT id FROM ( \
             SELECT id, due FROM (SELECT id, run_at AS due FROM jobs \
                 WHERE status = 'pending' AND run_at <= $3 \
                 ORDER BY run_at LIMIT 1{lock}) AS next_due \
             UNION ALL \
             SELECT id, due FROM (SELECT id, locked_until AS due FROM jobs \
                 WHERE status = 'running' AND locked_until < $3 \
                 ORDER BY locked_until LIMIT 1{lock}) AS first_lapsed \
         ) AS candidates ORDER BY due LIMIT 1) \
         RETURNING id, kind, payload, attempts, max_attempts, lease_token"
    );
    sqlx::query_as(&sql)
        .bind(worker)
        .bind(lease_until)
        .bind(Timestamp::now())
        .bind(uuid::Uuid::now_v7().to_string())
        .fetch_optional(db.pool())
        .await
}

/// The condition of every update a claim's holder makes.
const HELD: &str = "id = $1 AND status = 'running' AND locked_by = $2 AND lease_token = $3";

/// Extends the holder's lease to `lease_until`. False when the claim is
/// no longer the holder's (its lease lapsed and the job was claimed again).
pub async fn renew(
    db: &Db,
    id: &JobId,
    holder: Holder<'_>,
    lease_until: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(&format!(
        "UPDATE jobs SET locked_until = $4, updated_at = $5 WHERE {HELD}"
    ))
    .bind(id)
    .bind(holder.worker)
    .bind(holder.lease_token)
    .bind(lease_until)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The job succeeded. False (nothing changed) when the claim was lost.
pub async fn mark_done(db: &Db, id: &JobId, holder: Holder<'_>) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(&format!(
        "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, lease_token = NULL, \
         last_error = NULL, updated_at = $4 WHERE {HELD}"
    ))
    .bind(id)
    .bind(holder.worker)
    .bind(holder.lease_token)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The job failed its last attempt. False (nothing changed) when the claim
/// was lost.
pub async fn mark_dead(
    db: &Db,
    id: &JobId,
    holder: Holder<'_>,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(&format!(
        "UPDATE jobs SET status = 'dead', locked_by = NULL, locked_until = NULL, lease_token = NULL, \
         last_error = $4, updated_at = $5 WHERE {HELD}"
    ))
    .bind(id)
    .bind(holder.worker)
    .bind(holder.lease_token)
    .bind(error)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The job failed and runs again at `run_at`. False (nothing changed) when
/// the claim was lost.
pub async fn retry_at(
    db: &Db,
    id: &JobId,
    holder: Holder<'_>,
    error: &str,
    run_at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(&format!(
        "UPDATE jobs SET status = 'pending', locked_by = NULL, locked_until = NULL, lease_token = NULL, \
         last_error = $4, run_at = $5, updated_at = $6 WHERE {HELD}"
    ))
    .bind(id)
    .bind(holder.worker)
    .bind(holder.lease_token)
    .bind(error)
    .bind(run_at)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Puts a dead-lettered job back in the queue with fresh attempts. Returns
/// false when no dead job has that id.
pub async fn replay(db: &Db, id: &JobId) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'dead'",
    )
    .bind(id)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A job as operators see it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct JobView {
    pub id: JobId,
    pub kind: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub run_at: Timestamp,
}

/// Looks a job up by id (operators and tests).
pub async fn find(db: &Db, id: &JobId) -> Result<Option<JobView>, sqlx::Error> {
    sqlx::query_as("SELECT id, kind, status, attempts, last_error, run_at FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await
}

/// Jobs with `status`, most recently changed first, at most `limit`
/// (operators: the dead-lettered ones).
pub async fn with_status(
    db: &Db,
    status: JobStatus,
    limit: i64,
) -> Result<Vec<JobView>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, status, attempts, last_error, run_at FROM jobs \
         WHERE status = $1 ORDER BY updated_at DESC, id DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// Deletes jobs finished before `before` (dead ones stay for operators);
/// returns how many went.
pub async fn purge_done(db: &Db, before: Timestamp) -> Result<u64, sqlx::Error> {
    let result = sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(result.rows_affected())
}

/// How many jobs are dead-lettered now (operator alerts' `dead_jobs`).
pub async fn count_dead(db: &Db) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'dead'")
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}
