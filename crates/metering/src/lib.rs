//! Usage metering.
//!
//! Handlers of API-key requests hand a [`UsageRecord`] to the
//! [`UsageRecorder`] — a channel send, no I/O on the request path. A
//! background task writes what arrived in one multi-row insert per batch
//! (every `usage_flush_interval_ms`, or sooner once a batch is full), and
//! updates each key's `last_used_at` once per batch. A failed write is
//! retried with the same records; nothing is dropped. On shutdown, after the
//! HTTP server has drained, everything still pending is written.

pub mod routes;

use std::collections::HashMap;
use std::time::Duration;

use landlord_core::Db;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Rows per INSERT: 7 parameters each stays far below both databases'
/// parameter limits.
const BATCH_ROWS: usize = 500;

/// One metered request.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    pub organization_id: String,
    pub api_key_id: String,
    /// Route template, e.g. `/api/v1/messages/{id}`.
    pub endpoint: String,
    pub method: String,
    pub status: u16,
    /// Unix ms.
    pub at: i64,
}

/// Sends records to the writer. Cheap to clone.
#[derive(Clone)]
pub struct UsageRecorder {
    sender: mpsc::UnboundedSender<UsageRecord>,
}

impl UsageRecorder {
    /// Queues one record. Never blocks; the channel is unbounded so a slow
    /// database delays records instead of losing them.
    pub fn record(&self, record: UsageRecord) {
        if self.sender.send(record).is_err() {
            tracing::error!("usage writer has stopped: a usage record was not queued");
        }
    }
}

/// The background writer.
pub struct UsageWriter {
    db: Db,
    receiver: mpsc::UnboundedReceiver<UsageRecord>,
    interval: Duration,
}

/// A recorder and the writer that drains it.
pub fn channel(db: Db, interval: Duration) -> (UsageRecorder, UsageWriter) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        UsageRecorder { sender },
        UsageWriter {
            db,
            receiver,
            interval,
        },
    )
}

impl UsageWriter {
    /// Writes batches until `stop` is cancelled, then writes what is left.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut pending: Vec<UsageRecord> = Vec::new();
        loop {
            let stopping = tokio::select! {
                _ = stop.cancelled() => true,
                _ = tokio::time::sleep(self.interval) => false,
            };
            while let Ok(record) = self.receiver.try_recv() {
                pending.push(record);
            }
            self.flush(&mut pending, stopping).await;
            if stopping {
                break;
            }
        }
        tracing::info!("usage writer stopped with every record written");
    }

    /// Writes `pending`; on failure keeps the records and retries (until
    /// written, or once more only when stopping).
    async fn flush(&self, pending: &mut Vec<UsageRecord>, stopping: bool) {
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let take = pending.len().min(BATCH_ROWS);
            match write_batch(&self.db, &pending[..take]).await {
                Ok(()) => {
                    pending.drain(..take);
                    attempt = 0;
                }
                Err(error) => {
                    attempt += 1;
                    tracing::warn!(%error, records = pending.len(), attempt, "cannot write usage; will retry");
                    if stopping && attempt >= 20 {
                        tracing::error!(
                            records = pending.len(),
                            "giving up writing usage at shutdown"
                        );
                        return;
                    }
                    if !stopping {
                        return; // next tick retries, with new records appended
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
}

/// Inserts one batch and moves each key's `last_used_at`, in one transaction.
pub async fn write_batch(db: &Db, records: &[UsageRecord]) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO usage_records (id, organization_id, api_key_id, endpoint, method, status, created_at) VALUES ",
    );
    for i in 0..records.len() {
        let p = i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7
        ));
    }
    let mut query = sqlx::query(&sql);
    let mut last_used: HashMap<&str, i64> = HashMap::new();
    for record in records {
        query = query
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&record.organization_id)
            .bind(&record.api_key_id)
            .bind(&record.endpoint)
            .bind(&record.method)
            .bind(i64::from(record.status))
            .bind(record.at);
        let entry = last_used
            .entry(record.api_key_id.as_str())
            .or_insert(record.at);
        *entry = (*entry).max(record.at);
    }
    let mut tx = db.begin().await?;
    query.execute(&mut *tx).await?;
    for (key, at) in last_used {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(key)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Metered requests of an organization since `since` (Unix ms).
pub async fn count_since(db: &Db, organization_id: &str, since: i64) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND created_at >= $2",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    Ok(count)
}
