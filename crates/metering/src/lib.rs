//! Usage metering.
//!
//! Handlers of API-key requests hand a [`UsageRecord`] to the
//! [`UsageRecorder`] — a channel send, no I/O on the request path. A
//! background task writes what arrived in one multi-row insert per batch
//! (every `usage_flush_interval_ms`, or sooner once a batch is full), and
//! updates each key's `last_used_at` once per batch. A failed write is
//! retried with the same records; nothing is dropped. On shutdown, after the
//! HTTP server has drained, everything still pending is written.

pub mod period;
pub mod routes;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::{Db, Timestamp};
use sqlx::AnyConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Rows per INSERT: 7 parameters each stays far below both databases'
/// parameter limits.
const BATCH_ROWS: usize = 500;

/// One metered request.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    pub organization_id: OrganizationId,
    pub api_key_id: ApiKeyId,
    /// Route template, e.g. `/api/v1/messages/{id}`.
    pub endpoint: String,
    pub method: String,
    pub status: u16,
    pub at: Timestamp,
}

/// What the writer tells the keys feature with each batch: when each key
/// was last used (keys owns `api_keys`; metering cannot depend on keys,
/// which depends on metering, so keys hands this in).
#[async_trait::async_trait]
pub trait KeysUsed: Send + Sync + 'static {
    /// Runs in the batch's transaction.
    async fn used(
        &self,
        conn: &mut AnyConnection,
        last_used: &[(ApiKeyId, Timestamp)],
    ) -> Result<(), sqlx::Error>;
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
    keys_used: Arc<dyn KeysUsed>,
}

/// A recorder and the writer that drains it, telling `keys_used` when keys
/// were last used.
pub fn channel(
    db: Db,
    interval: Duration,
    keys_used: impl KeysUsed,
) -> (UsageRecorder, UsageWriter) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        UsageRecorder { sender },
        UsageWriter {
            db,
            receiver,
            interval,
            keys_used: Arc::new(keys_used),
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
            match write_batch(&self.db, &pending[..take], self.keys_used.as_ref()).await {
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
pub async fn write_batch(
    db: &Db,
    records: &[UsageRecord],
    keys_used: &dyn KeysUsed,
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut last_used: HashMap<&ApiKeyId, Timestamp> = HashMap::new();
    for record in records {
        let entry = last_used.entry(&record.api_key_id).or_insert(record.at);
        *entry = (*entry).max(record.at);
    }
    let last_used: Vec<(ApiKeyId, Timestamp)> = last_used
        .into_iter()
        .map(|(key, at)| (key.clone(), at))
        .collect();
    let mut tx = db.begin().await?;
    store::insert_batch(&mut tx, records).await?;
    keys_used.used(&mut tx, &last_used).await?;
    tx.commit().await
}

/// Metered requests of an organization since `since`.
pub async fn count_since(
    db: &Db,
    organization_id: &OrganizationId,
    since: Timestamp,
) -> Result<i64, sqlx::Error> {
    store::count_since(db.pool(), organization_id, since).await
}
