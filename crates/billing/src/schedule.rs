//! The schedule. Every instance runs it; the job queue's unique keys make
//! each occurrence one job, whatever the number of instances: close the
//! previous month on the 1st at 00:00 UTC; once a day, look for overdue
//! cycles, reconcile with the payment providers and purge expired rows.

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Config, Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::period::Period;

pub const CLOSE_PERIOD_JOB: &str = "billing.close_period";
pub const MARK_OVERDUE_JOB: &str = "billing.mark_overdue";
/// Kind of the daily housekeeping job (worked by the `landlord` binary).
pub const PURGE_JOB: &str = "maintenance.purge";
/// Kind of the daily reconciliation job (worked by `landlord-payments`).
pub const RECONCILE_JOB: &str = "payments.reconcile";

/// Enqueues the jobs that are due now (idempotent).
pub async fn enqueue_due(db: &Db) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let previous = Period::of(now).previous();
    let mut close = NewJob::new(
        CLOSE_PERIOD_JOB,
        serde_json::json!({ "period": previous.key() }),
    );
    close.unique_key = Some(format!("{CLOSE_PERIOD_JOB}:{}", previous.key()));
    landlord_jobs::enqueue(db.pool(), close).await?;
    let day = now.date();
    let mut overdue = NewJob::new(MARK_OVERDUE_JOB, serde_json::json!({}));
    overdue.unique_key = Some(format!("{MARK_OVERDUE_JOB}:{day}"));
    landlord_jobs::enqueue(db.pool(), overdue).await?;
    // Daily reconciliation with the payment providers (handled by the
    // payments feature, which depends on billing, hence the plain name).
    let mut reconcile = NewJob::new(RECONCILE_JOB, serde_json::json!({}));
    reconcile.unique_key = Some(format!("{RECONCILE_JOB}:{day}"));
    landlord_jobs::enqueue(db.pool(), reconcile).await?;
    // Daily housekeeping of expired rows (worked by the application).
    let mut purge = NewJob::new(PURGE_JOB, serde_json::json!({}));
    purge.unique_key = Some(format!("{PURGE_JOB}:{day}"));
    landlord_jobs::enqueue(db.pool(), purge).await?;
    Ok(())
}

/// Checks the schedule every minute until `stop`.
pub async fn run(db: Db, stop: CancellationToken) {
    loop {
        if let Err(error) = enqueue_due(&db).await {
            tracing::warn!(%error, "cannot enqueue scheduled billing jobs");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {},
        }
    }
}

/// Job: close the period in the payload.
pub struct ClosePeriodJob {
    pub db: Db,
    pub config: Arc<Config>,
}

#[async_trait::async_trait]
impl JobHandler for ClosePeriodJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let period = payload
            .get("period")
            .and_then(Value::as_str)
            .and_then(Period::parse)
            .ok_or_else(|| anyhow::anyhow!("payload without a valid period"))?;
        crate::close_period(&self.db, &self.config, period).await?;
        Ok(())
    }
}

/// Job: mark overdue cycles.
pub struct MarkOverdueJob {
    pub db: Db,
    pub config: Arc<Config>,
}

#[async_trait::async_trait]
impl JobHandler for MarkOverdueJob {
    async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        crate::mark_overdue(&self.db, &self.config).await?;
        Ok(())
    }
}
