//! The worker: claims due jobs one at a time, runs their handlers (each in
//! its own task, so a panic fails the attempt, not the worker) and records
//! the outcome: done, pending again after an exponential backoff, or dead
//! after the last attempt.
//!
//! Each job is leased when it starts, for a short time renewed by a
//! heartbeat while its handler runs; a job whose lease lapses (its instance
//! died, or lost the database longer than a lease) is claimed again by any
//! worker. Every renewal and outcome is conditional on the claim still being
//! this one's: a worker that lost its claim changes nothing and says so.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::config::Config;
use landlord_core::lease::{renewal_period, Heartbeat};
use landlord_core::{Db, Timestamp};
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{self, ClaimedJob, Holder};
use crate::{Attempt, JobHandler};

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub poll_interval: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_attempts: u32,
    /// Jobs run one after another before the worker looks at its shutdown
    /// signal again.
    pub batch_size: i64,
    /// A claimed job whose lease is not renewed within this time is claimed
    /// again (its worker is presumed dead). Renewed every third of it.
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
            lease: Duration::from_secs(config.jobs_lease_secs),
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

    /// Claims and runs due jobs, one at a time, up to a batch; returns how
    /// many ran.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut count = 0;
        while count < self.settings.batch_size.max(1) as usize {
            let lease_until = Timestamp::now().plus(self.settings.lease);
            let Some(job) = store::claim_one(&self.db, &self.instance, lease_until).await? else {
                break;
            };
            self.run_job(job).await?;
            count += 1;
        }
        Ok(count)
    }

    /// Renews `job`'s lease every third of it until dropped.
    fn heartbeat(&self, job: &ClaimedJob) -> Heartbeat {
        let db = self.db.clone();
        let instance = self.instance.clone();
        let (id, token, kind) = (job.id.clone(), job.lease_token.clone(), job.kind.clone());
        let lease = self.settings.lease;
        Heartbeat::start(renewal_period(lease), move || {
            let (db, instance) = (db.clone(), instance.clone());
            let (id, token, kind) = (id.clone(), token.clone(), kind.clone());
            async move {
                let holder = Holder {
                    worker: &instance,
                    lease_token: &token,
                };
                match store::renew(&db, &id, holder, Timestamp::now().plus(lease)).await {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::warn!(job = %id, %kind, "lost the lease of a running job; another worker may run it");
                        false
                    }
                    Err(error) => {
                        // The lease outlives two missed renewals.
                        tracing::warn!(job = %id, %kind, %error, "cannot renew a running job's lease");
                        true
                    }
                }
            }
        })
    }

    async fn run_job(&self, job: ClaimedJob) -> Result<(), sqlx::Error> {
        let attempts = job.attempts.max(0) as u32;
        let max = job
            .max_attempts
            .map(|n| n.max(1) as u32)
            .unwrap_or(self.settings.max_attempts);
        let attempt = Attempt {
            number: attempts,
            last: attempts >= max,
        };
        let heartbeat = self.heartbeat(&job);
        let outcome = match self.handlers.get(&job.kind) {
            None => Err(format!("no handler for job kind '{}'", job.kind)),
            Some(handler) => match serde_json::from_str::<Value>(&job.payload) {
                Err(error) => Err(format!("payload is not JSON: {error}")),
                Ok(mut payload) => {
                    let traceparent = payload
                        .as_object_mut()
                        .and_then(|fields| fields.remove(store::TRACEPARENT_KEY));
                    // A task of its own: a panicking handler fails the
                    // attempt instead of the worker.
                    let handler = handler.clone();
                    // Exported traces: each attempt is a span of its own
                    // (nothing is created when traces are off).
                    let span = if landlord_core::telemetry::traces_enabled() {
                        let span = tracing::info_span!(
                            "job",
                            otel.name = %format_args!("job {}", job.kind),
                            otel.kind = "consumer",
                            job.id = %job.id,
                            job.kind = %job.kind,
                            job.attempt = attempts,
                        );
                        // In the trace of the request (or job) that queued it.
                        if let Some(Value::String(traceparent)) = &traceparent {
                            landlord_core::telemetry::continue_from(&span, traceparent);
                        }
                        span
                    } else {
                        tracing::Span::none()
                    };
                    let run = async move { handler.handle(&payload, attempt).await };
                    match tokio::spawn(tracing::Instrument::instrument(run, span)).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(error)) => Err(format!("{error:#}")),
                        Err(join) => Err(format!("handler panicked: {join}")),
                    }
                }
            },
        };
        drop(heartbeat);
        let holder = Holder::of(&self.instance, &job);
        let recorded = match &outcome {
            Ok(()) => {
                tracing::debug!(job = %job.id, kind = %job.kind, "job done");
                store::mark_done(&self.db, &job.id, holder).await?
            }
            Err(error) if attempt.last => {
                tracing::error!(job = %job.id, kind = %job.kind, attempts, %error, "job dead-lettered");
                store::mark_dead(&self.db, &job.id, holder, error).await?
            }
            Err(error) => {
                let delay = self.settings.backoff(attempts);
                tracing::warn!(job = %job.id, kind = %job.kind, attempts, retry_in_ms = delay.as_millis() as u64, %error, "job failed; will retry");
                store::retry_at(
                    &self.db,
                    &job.id,
                    holder,
                    error,
                    Timestamp::now().plus(delay),
                )
                .await?
            }
        };
        if !recorded {
            tracing::warn!(
                job = %job.id,
                kind = %job.kind,
                succeeded = outcome.is_ok(),
                "a job's lease was lost before its outcome was recorded; the job's state is left to its current holder"
            );
        }
        Ok(())
    }
}
