//! The outbox and job queue.
//!
//! A feature that changes state and must cause work (send a mail, deliver a
//! webhook) calls [`enqueue`] with the same transaction as the change, so the
//! two are committed together or not at all. Every instance runs a
//! [`Worker`] that claims due jobs — `FOR UPDATE SKIP LOCKED` on PostgreSQL so
//! two instances never take the same row; SQLite has a single writer — runs
//! their handler, and records the outcome. A failure is retried with
//! exponential backoff; after the last attempt the job is dead-lettered with
//! its error, for an operator to [`replay`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::config::{Config, DatabaseKind};
use landlord_core::db::now_millis;
use landlord_core::Db;
use serde_json::Value;
use sqlx::{Any, Executor, Row};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Which attempt of a job is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// Whether a failure now dead-letters the job.
    pub last: bool,
}

/// Work a handler can do for one job.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the work. An error (or a panic) counts as a failed attempt.
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()>;
}

/// Commits the transaction that queued jobs, then wakes this instance's
/// worker (`worker`: [`Worker::waker`]) so they run now rather than at the
/// next poll. Waking before the commit would let the worker look too early.
pub async fn commit_and_wake(
    tx: sqlx::Transaction<'_, Any>,
    worker: &Notify,
) -> Result<(), sqlx::Error> {
    tx.commit().await?;
    worker.notify_one();
    Ok(())
}

/// A job to add to the queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    /// Unix ms; now when `None`.
    pub run_at: Option<i64>,
    /// Attempts before dead-lettering; the worker's setting when `None`.
    pub max_attempts: Option<u32>,
    /// At most one job ever exists with this key (for schedules).
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
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
pub async fn enqueue<'c, E>(executor: E, job: NewJob) -> Result<Option<String>, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_millis();
    let result = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, unique_key, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $5, $6, $7, $7) \
         ON CONFLICT (unique_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&job.kind)
    .bind(job.payload.to_string())
    .bind(job.max_attempts.map(i64::from))
    .bind(job.run_at.unwrap_or(now))
    .bind(job.unique_key)
    .bind(now)
    .execute(executor)
    .await?;
    Ok((result.rows_affected() == 1).then_some(id))
}

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub poll_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_attempts: u32,
    pub batch_size: i64,
    /// A claimed job not finished within this time is claimed again (its
    /// worker is presumed dead).
    pub lease: Duration,
}

impl WorkerSettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            poll_interval: Duration::from_millis(config.jobs_poll_interval_ms),
            backoff_base: Duration::from_millis(config.jobs_backoff_base_ms),
            backoff_max: Duration::from_secs(3600),
            max_attempts: config.jobs_max_attempts,
            batch_size: 16,
            lease: Duration::from_secs(300),
        }
    }

    /// Delay before the next attempt after `attempts` failed ones:
    /// base × 2^(attempts−1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max)
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
struct Claimed {
    id: String,
    kind: String,
    payload: String,
    attempts: u32,
    max_attempts: Option<u32>,
}

/// Claims and runs due jobs.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    handlers: Arc<HashMap<String, Arc<dyn JobHandler>>>,
    settings: WorkerSettings,
    instance: String,
    wake: Arc<Notify>,
}

/// Registers handlers before the worker starts.
pub struct WorkerBuilder {
    db: Db,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    settings: WorkerSettings,
}

impl WorkerBuilder {
    pub fn new(db: Db, settings: WorkerSettings) -> Self {
        Self {
            db,
            handlers: HashMap::new(),
            settings,
        }
    }

    pub fn handle(mut self, kind: impl Into<String>, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    pub fn build(self) -> Worker {
        Worker {
            db: self.db,
            handlers: Arc::new(self.handlers),
            settings: self.settings,
            instance: uuid::Uuid::now_v7().to_string(),
            wake: Arc::new(Notify::new()),
        }
    }
}

impl Worker {
    /// Wakes the worker now instead of at its next poll (after enqueueing
    /// something urgent on this instance).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A handle that wakes this worker.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Runs until `shutdown` is cancelled; a batch in progress finishes.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let worked = match self.run_once().await {
                Ok(count) => count,
                Err(error) => {
                    tracing::warn!(%error, "cannot claim jobs");
                    0
                }
            };
            if shutdown.is_cancelled() {
                break;
            }
            if worked > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(self.settings.poll_interval) => {},
            }
        }
        tracing::debug!("job worker stopped");
    }

    /// Claims one batch of due jobs and runs them; returns how many ran.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let jobs = self.claim().await?;
        let count = jobs.len();
        for job in jobs {
            self.run_job(job).await?;
        }
        Ok(count)
    }

    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        let now = now_millis();
        let lease_until = now + self.settings.lease.as_millis() as i64;
        let lock = match self.db.backend() {
            DatabaseKind::Postgres => " FOR UPDATE SKIP LOCKED",
            DatabaseKind::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
                 attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs \
                 WHERE (status = 'pending' AND run_at <= $3) \
                    OR (status = 'running' AND locked_until < $3) \
                 ORDER BY run_at LIMIT $4{lock}) \
             RETURNING id, kind, payload, attempts, max_attempts"
        );
        let rows = sqlx::query(&sql)
            .bind(&self.instance)
            .bind(lease_until)
            .bind(now)
            .bind(self.settings.batch_size)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Claimed {
                    id: row.try_get("id")?,
                    kind: row.try_get("kind")?,
                    payload: row.try_get("payload")?,
                    attempts: row.try_get::<i64, _>("attempts")?.max(0) as u32,
                    max_attempts: row
                        .try_get::<Option<i64>, _>("max_attempts")?
                        .map(|n| n.max(1) as u32),
                })
            })
            .collect()
    }

    async fn run_job(&self, job: Claimed) -> Result<(), sqlx::Error> {
        let max = job.max_attempts.unwrap_or(self.settings.max_attempts);
        let attempt = Attempt {
            number: job.attempts,
            last: job.attempts >= max,
        };
        let outcome = match self.handlers.get(&job.kind) {
            None => Err(format!("no handler for job kind '{}'", job.kind)),
            Some(handler) => match serde_json::from_str::<Value>(&job.payload) {
                Err(error) => Err(format!("payload is not JSON: {error}")),
                Ok(payload) => {
                    // A task of its own: a panicking handler fails the
                    // attempt instead of the worker.
                    let handler = handler.clone();
                    match tokio::spawn(async move { handler.handle(&payload, attempt).await }).await
                    {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(error)) => Err(format!("{error:#}")),
                        Err(join) => Err(format!("handler panicked: {join}")),
                    }
                }
            },
        };
        let now = now_millis();
        match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, \
                     last_error = NULL, updated_at = $2 WHERE id = $1",
                )
                .bind(&job.id)
                .bind(now)
                .execute(self.db.pool())
                .await?;
                tracing::debug!(job = %job.id, kind = %job.kind, "job done");
            }
            Err(error) => {
                if attempt.last {
                    tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, %error, "job dead-lettered");
                    sqlx::query(
                        "UPDATE jobs SET status = 'dead', locked_by = NULL, locked_until = NULL, \
                         last_error = $2, updated_at = $3 WHERE id = $1",
                    )
                    .bind(&job.id)
                    .bind(&error)
                    .bind(now)
                    .execute(self.db.pool())
                    .await?;
                } else {
                    let delay = self.settings.backoff(job.attempts);
                    tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, retry_in_ms = delay.as_millis() as u64, %error, "job failed; will retry");
                    sqlx::query(
                        "UPDATE jobs SET status = 'pending', locked_by = NULL, locked_until = NULL, \
                         last_error = $2, run_at = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(&job.id)
                    .bind(&error)
                    .bind(now + delay.as_millis() as i64)
                    .bind(now)
                    .execute(self.db.pool())
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// Puts a dead-lettered job back in the queue with fresh attempts. Returns
/// false when no dead job has that id.
pub async fn replay(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_millis();
    let result = sqlx::query(
        "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $2, updated_at = $2 \
         WHERE id = $1 AND status = 'dead'",
    )
    .bind(id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A job as operators see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub run_at: i64,
}

/// Looks a job up by id (operators and tests).
pub async fn find(db: &Db, id: &str) -> Result<Option<JobView>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, kind, status, attempts, last_error, run_at FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(JobView {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
            run_at: row.try_get("run_at")?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct FailTimes {
        remaining: AtomicU32,
        calls: Arc<AtomicU32>,
    }

    #[async_trait::async_trait]
    impl JobHandler for FailTimes {
        async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                anyhow::bail!("not yet");
            }
            Ok(())
        }
    }

    struct Panics;

    #[async_trait::async_trait]
    impl JobHandler for Panics {
        async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
            panic!("boom")
        }
    }

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect_url(&url, DatabaseKind::Sqlite, 2)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        (dir, db)
    }

    fn settings(max_attempts: u32) -> WorkerSettings {
        WorkerSettings {
            poll_interval: Duration::from_millis(10),
            backoff_base: Duration::from_millis(0),
            backoff_max: Duration::from_millis(0),
            max_attempts,
            batch_size: 10,
            lease: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = WorkerSettings {
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            ..settings(5)
        };
        assert_eq!(s.backoff(1), Duration::from_secs(2));
        assert_eq!(s.backoff(2), Duration::from_secs(4));
        assert_eq!(s.backoff(4), Duration::from_secs(16));
        assert_eq!(s.backoff(10), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_failing_job_is_retried_then_succeeds() {
        let (_dir, db) = db().await;
        let calls = Arc::new(AtomicU32::new(0));
        let worker = WorkerBuilder::new(db.clone(), settings(5))
            .handle(
                "flaky",
                FailTimes {
                    remaining: AtomicU32::new(2),
                    calls: calls.clone(),
                },
            )
            .build();
        let id = enqueue(db.pool(), NewJob::new("flaky", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        for _ in 0..3 {
            worker.run_once().await.unwrap();
        }
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, "done");
        assert_eq!(job.attempts, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_job_that_keeps_failing_is_dead_lettered_and_can_be_replayed() {
        let (_dir, db) = db().await;
        let calls = Arc::new(AtomicU32::new(0));
        let worker = WorkerBuilder::new(db.clone(), settings(2))
            .handle(
                "flaky",
                FailTimes {
                    remaining: AtomicU32::new(2),
                    calls: calls.clone(),
                },
            )
            .build();
        let id = enqueue(db.pool(), NewJob::new("flaky", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        for _ in 0..4 {
            worker.run_once().await.unwrap();
        }
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, "dead");
        assert_eq!(job.last_error.as_deref(), Some("not yet"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        assert!(replay(&db, &id).await.unwrap());
        worker.run_once().await.unwrap();
        assert_eq!(find(&db, &id).await.unwrap().unwrap().status, "done");
        assert!(!replay(&db, &id).await.unwrap(), "only dead jobs replay");
    }

    #[tokio::test]
    async fn a_panicking_handler_fails_the_attempt_not_the_worker() {
        let (_dir, db) = db().await;
        let worker = WorkerBuilder::new(db.clone(), settings(1))
            .handle("panics", Panics)
            .build();
        let id = enqueue(db.pool(), NewJob::new("panics", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        worker.run_once().await.unwrap();
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, "dead");
        assert!(job.last_error.unwrap().contains("panicked"));
    }

    #[tokio::test]
    async fn unique_keys_make_one_job() {
        let (_dir, db) = db().await;
        let mut job = NewJob::new("close", serde_json::json!({}));
        job.unique_key = Some("close:2026-11".into());
        assert!(enqueue(db.pool(), job.clone()).await.unwrap().is_some());
        assert!(enqueue(db.pool(), job).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn future_jobs_wait_and_unknown_kinds_fail() {
        let (_dir, db) = db().await;
        let worker = WorkerBuilder::new(db.clone(), settings(1)).build();
        let mut later = NewJob::new("x", serde_json::json!({}));
        later.run_at = Some(now_millis() + 60_000);
        enqueue(db.pool(), later).await.unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 0);
        let id = enqueue(db.pool(), NewJob::new("nobody", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, "dead");
        assert!(job.last_error.unwrap().contains("no handler"));
    }
}
