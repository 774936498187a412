//! Daily housekeeping: remove what has expired and can no
//! longer matter — used or expired one-time tokens, expired refresh
//! sessions, expired idempotency keys, finished jobs after a week, and raw
//! usage rows past `usage_raw_log_retention_days` (the hourly counters
//! stay), webhook attempts after 30 days and the inbox's stream events
//! after a day, backup attempts after 90 days. Dead-lettered jobs stay for
//! operators.

use std::time::Duration;

use landlord_core::{Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

pub use landlord_billing::schedule::PURGE_JOB;

/// How long finished jobs and spent tokens are kept, for inspection.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long the record of backup attempts is kept (the snapshots
/// themselves follow `backup.keep_*`).
const BACKUP_RUNS_KEPT: Duration = Duration::from_secs(90 * 24 * 3600);

/// Days the raw usage log is kept when nothing else is configured.
const RAW_LOG_DAYS: u32 = 30;

/// Deletes expired rows, each feature its own, keeping the raw usage log
/// for the default 30 days; returns how many went.
pub async fn purge(db: &Db) -> Result<u64, sqlx::Error> {
    purge_keeping_raw_usage(db, RAW_LOG_DAYS).await
}

/// Deletes expired rows, each feature its own, and raw usage rows older
/// than `raw_log_days`; returns how many went.
pub async fn purge_keeping_raw_usage(db: &Db, raw_log_days: u32) -> Result<u64, sqlx::Error> {
    let now = Timestamp::now();
    let kept_since = now.minus(KEEP);
    let mut conn = db.pool().acquire().await?;
    let mut removed = landlord_identity::store::purge_expired(&mut conn, now, kept_since).await?;
    drop(conn);
    removed += landlord_core::idempotency::purge_expired(db, now).await?;
    removed += landlord_jobs::store::purge_done(db, kept_since).await?;
    let raw_kept_since = now.minus(Duration::from_secs(u64::from(raw_log_days) * 24 * 3600));
    let mut conn = db.pool().acquire().await?;
    removed += landlord_metering::store::purge_raw_before(&mut conn, raw_kept_since).await?;
    drop(conn);
    removed += landlord_webhooks::store::purge_attempts(
        db.pool(),
        now.minus(landlord_webhooks::deliver::ATTEMPT_LOG_RETENTION),
    )
    .await?;
    removed += landlord_inbox::store::purge_stream_events(
        db.pool(),
        now.minus(Duration::from_secs(24 * 3600)),
    )
    .await?;
    removed += landlord_backup::store::purge_runs_before(db, now.minus(BACKUP_RUNS_KEPT)).await?;
    tracing::info!(removed, "expired rows purged");
    Ok(removed)
}

pub struct PurgeJob {
    pub db: Db,
    /// `usage_raw_log_retention_days`.
    pub raw_log_days: u32,
}

#[async_trait::async_trait]
impl JobHandler for PurgeJob {
    async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        purge_keeping_raw_usage(&self.db, self.raw_log_days).await?;
        Ok(())
    }
}
