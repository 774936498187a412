//! Realtime: what happens in an organization's inbox (new messages,
//! status changes, assignments, presence) as a stream of server-sent
//! events per signed-in person.
//!
//! Each change writes a row of `inbox_stream_events` in its own
//! transaction ([`record`]); the rows are the truth, and a client that
//! reconnects with its last event id is given what it missed. After the
//! commit, [`Live::wake`] wakes this instance's streams and, with Redis,
//! publishes on `landlord:inbox:stream` so every other instance's
//! subscriber wakes its own. A stream not woken looks again every
//! `inbox.stream_poll_ms` anyway, so a lost wake-up only delays.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use sqlx::{Any, Executor};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{self, StreamEventRow};

/// The Redis channel instances wake each other on.
pub const CHANNEL: &str = "landlord:inbox:stream";

/// Writes a stream event of `kind` with `payload` for the organization,
/// through `executor` (the change's transaction).
pub async fn record<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(), sqlx::Error> {
    store::insert_stream_event(
        executor,
        &StreamEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: organization_id.clone(),
            kind: kind.to_string(),
            payload: payload.to_string(),
            created_at: Timestamp::now(),
        },
    )
    .await
}

/// This instance's streams' wake-up, and Redis when configured.
#[derive(Clone)]
pub struct Live(Arc<LiveInner>);

pub struct LiveInner {
    woken: Notify,
    redis: Option<redis::Client>,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Cancelled when the server shuts down: streams end, so the graceful
    /// shutdown does not wait for them.
    pub stopping: CancellationToken,
    /// `inbox.stream_poll_ms`.
    pub poll: Duration,
}

impl std::ops::Deref for Live {
    type Target = LiveInner;
    fn deref(&self) -> &LiveInner {
        &self.0
    }
}

impl Live {
    pub fn new(redis: Option<redis::Client>, poll: Duration) -> Self {
        Self(Arc::new(LiveInner {
            woken: Notify::new(),
            redis,
            publisher: tokio::sync::Mutex::new(None),
            stopping: CancellationToken::new(),
            poll,
        }))
    }

    /// A wake-up to wait for; enable it before reading, so a wake between
    /// the read and the wait is not lost.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.woken.notified()
    }

    /// Wakes the streams here and, through Redis, on every instance.
    pub async fn wake(&self) {
        self.woken.notify_waiters();
        let Some(client) = &self.redis else {
            return;
        };
        let mut publisher = self.publisher.lock().await;
        if publisher.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(connection) => *publisher = Some(connection),
                Err(error) => {
                    tracing::warn!(%error, "inbox stream: cannot reach Redis to wake other instances");
                    return;
                }
            }
        }
        if let Some(connection) = publisher.as_mut() {
            let sent: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg("1")
                .query_async(connection)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "inbox stream: publishing the wake-up failed");
                *publisher = None;
            }
        }
    }

    /// With Redis: listens on [`CHANNEL`] and wakes this instance's streams
    /// for each message, reconnecting after a failure, until `stopping`.
    pub async fn subscribe(self) {
        let Some(client) = self.redis.clone() else {
            return;
        };
        loop {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(error) = pubsub.subscribe(CHANNEL).await {
                        tracing::warn!(%error, "inbox stream: cannot subscribe on Redis");
                    } else {
                        let mut messages = pubsub.on_message();
                        loop {
                            tokio::select! {
                                _ = self.stopping.cancelled() => return,
                                message = messages.next() => match message {
                                    Some(_) => self.woken.notify_waiters(),
                                    None => break,
                                },
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "inbox stream: cannot reach Redis"),
            }
            tokio::select! {
                _ = self.stopping.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
