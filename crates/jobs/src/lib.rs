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
//!
//! A job is leased to its worker when it starts, for a short time
//! (`jobs_lease_secs`) renewed while it runs: a dead instance's jobs are
//! claimed again within one lease, and a worker that lost its lease records
//! nothing. A handler may still run twice when its instance dies mid-way,
//! so handlers check before they repeat what they did.

pub mod store;
pub mod worker;

use serde_json::Value;
use sqlx::Any;
use tokio::sync::Notify;

pub use store::{enqueue, enqueue_many, find, replay, JobStatus, JobView, NewJob};
pub use worker::{Worker, WorkerBuilder, WorkerSettings};

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

#[cfg(test)]
mod tests {
    use super::*;
    use landlord_core::config::DatabaseKind;
    use landlord_core::{Db, Timestamp};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

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
        db.migrate(&[]).await.unwrap();
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

    struct Slow {
        sleep: Duration,
        calls: Arc<AtomicU32>,
    }

    #[async_trait::async_trait]
    impl JobHandler for Slow {
        async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.sleep).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_job_slower_than_its_lease_runs_once_between_two_workers() {
        let (_dir, db) = db().await;
        let calls = Arc::new(AtomicU32::new(0));
        let short = WorkerSettings {
            lease: Duration::from_millis(300),
            ..settings(3)
        };
        let workers: Vec<Worker> = (0..2)
            .map(|_| {
                WorkerBuilder::new(db.clone(), short.clone())
                    .handle(
                        "slow",
                        Slow {
                            sleep: Duration::from_millis(1200),
                            calls: calls.clone(),
                        },
                    )
                    .build()
            })
            .collect();
        let id = enqueue(db.pool(), NewJob::new("slow", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let running: Vec<_> = workers
            .into_iter()
            .map(|w| tokio::spawn(w.run(shutdown.clone())))
            .collect();
        // Four leases' worth of time: without renewals the other worker
        // would have claimed the job again meanwhile.
        let mut done = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if find(&db, &id).await.unwrap().unwrap().status == JobStatus::Done {
                done = true;
                break;
            }
        }
        shutdown.cancel();
        for task in running {
            task.await.unwrap();
        }
        assert!(done, "the job finished");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "and ran once");
        assert_eq!(find(&db, &id).await.unwrap().unwrap().attempts, 1);
    }

    #[tokio::test]
    async fn a_dead_workers_job_is_taken_over_after_its_lease_and_its_late_outcome_is_ignored() {
        let (_dir, db) = db().await;
        let calls = Arc::new(AtomicU32::new(0));
        let worker = WorkerBuilder::new(db.clone(), settings(3))
            .handle(
                "flaky",
                FailTimes {
                    remaining: AtomicU32::new(0),
                    calls: calls.clone(),
                },
            )
            .build();
        let id = enqueue(db.pool(), NewJob::new("flaky", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        // An instance claims the job and dies.
        let dead = store::claim_one(
            &db,
            "dead",
            Timestamp::now().plus(Duration::from_millis(300)),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 0, "its lease holds");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(worker.run_once().await.unwrap(), 1, "taken over");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!((job.status, job.attempts), (JobStatus::Done, 2));

        // The dead claim's late renewal and outcomes change nothing.
        let holder = store::Holder::of("dead", &dead);
        let later = Timestamp::now().plus(Duration::from_secs(60));
        assert!(!store::renew(&db, &id, holder, later).await.unwrap());
        assert!(!store::retry_at(&db, &id, holder, "late", later)
            .await
            .unwrap());
        assert!(!store::mark_dead(&db, &id, holder, "late").await.unwrap());
        assert!(!store::mark_done(&db, &id, holder).await.unwrap());
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Done);
        assert_eq!(job.last_error, None);
    }

    #[tokio::test]
    async fn a_claim_lost_to_a_newer_one_of_the_same_worker_records_nothing() {
        let (_dir, db) = db().await;
        let id = enqueue(db.pool(), NewJob::new("x", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        let first = store::claim_one(&db, "w", Timestamp::now())
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = store::claim_one(&db, "w", Timestamp::now().plus(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(first.lease_token, second.lease_token);
        assert!(!store::mark_done(&db, &id, store::Holder::of("w", &first))
            .await
            .unwrap());
        assert!(
            !store::mark_done(&db, &id, store::Holder::of("other", &second))
                .await
                .unwrap()
        );
        assert_eq!(
            find(&db, &id).await.unwrap().unwrap().status,
            JobStatus::Running
        );
        assert!(store::mark_done(&db, &id, store::Holder::of("w", &second))
            .await
            .unwrap());
        assert_eq!(
            find(&db, &id).await.unwrap().unwrap().status,
            JobStatus::Done
        );
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
        assert_eq!(job.status, JobStatus::Done);
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
        assert_eq!(job.status, JobStatus::Dead);
        assert_eq!(job.last_error.as_deref(), Some("not yet"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        assert!(replay(&db, &id).await.unwrap());
        worker.run_once().await.unwrap();
        assert_eq!(
            find(&db, &id).await.unwrap().unwrap().status,
            JobStatus::Done
        );
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
        assert_eq!(job.status, JobStatus::Dead);
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
        later.run_at = Some(Timestamp::now().plus(Duration::from_secs(60)));
        enqueue(db.pool(), later).await.unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 0);
        let id = enqueue(db.pool(), NewJob::new("nobody", serde_json::json!({})))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let job = find(&db, &id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Dead);
        assert!(job.last_error.unwrap().contains("no handler"));
    }
}
