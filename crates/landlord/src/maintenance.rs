//! Daily housekeeping (DESIGN.md §9): remove what has expired and can no
//! longer matter — used or expired one-time tokens, expired refresh
//! sessions, expired idempotency keys, and finished jobs after a week.
//! Dead-lettered jobs stay for operators.

use std::time::Duration;

use landlord_core::db::now_millis;
use landlord_core::Db;
use landlord_jobs::{Attempt, JobHandler};
use serde_json::Value;

pub use landlord_billing::schedule::PURGE_JOB;

/// How long finished jobs and spent tokens are kept, for inspection.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Deletes expired rows; returns how many went.
pub async fn purge(db: &Db) -> Result<u64, sqlx::Error> {
    let now = now_millis();
    let before = now - KEEP.as_millis() as i64;
    let statements: [(&str, i64); 4] = [
        (
            "DELETE FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1",
            before,
        ),
        ("DELETE FROM refresh_sessions WHERE expires_at < $1", now),
        ("DELETE FROM idempotency_keys WHERE expires_at < $1", now),
        (
            "DELETE FROM jobs WHERE status = 'done' AND updated_at < $1",
            before,
        ),
    ];
    let mut removed = 0;
    for (sql, bound) in statements {
        removed += sqlx::query(sql)
            .bind(bound)
            .execute(db.pool())
            .await?
            .rows_affected();
    }
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
