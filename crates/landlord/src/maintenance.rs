//! Daily housekeeping (DESIGN.md §9): remove what has expired and can no
//! longer matter — used or expired one-time tokens, expired refresh
//! sessions, expired idempotency keys, and finished jobs after a week.
//! Dead-lettered jobs stay for operators.

use std::time::Duration;

use landlord_core::{Db, Timestamp};
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

pub use landlord_billing::schedule::PURGE_JOB;

/// How long finished jobs and spent tokens are kept, for inspection.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Deletes expired rows, each feature its own; returns how many went.
pub async fn purge(db: &Db) -> Result<u64, sqlx::Error> {
    let now = Timestamp::now();
    let kept_since = now.minus(KEEP);
    let mut conn = db.pool().acquire().await?;
    let mut removed = landlord_identity::store::purge_expired(&mut conn, now, kept_since).await?;
    drop(conn);
    removed += landlord_core::idempotency::purge_expired(db, now).await?;
    removed += landlord_jobs::store::purge_done(db, kept_since).await?;
    tracing::info!(removed, "expired rows purged");
    Ok(removed)
}

pub struct PurgeJob {
    pub db: Db,
}

#[async_trait::async_trait]
impl JobHandler for PurgeJob {
    async fn handle(&self, _payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        purge(&self.db).await?;
        Ok(())
    }
}
