//! Fan-out: every new event becomes one delivery per enabled endpoint of
//! its organization whose filter accepts it (and that existed when the
//! event happened), each with its first attempt queued as a job.
//!
//! Events are written by every feature in its own transaction; this task
//! (on every instance with `webhooks.dispatch`) picks up the ones not yet
//! dispatched. One transaction takes a batch (locked, `SKIP LOCKED`, on
//! PostgreSQL; SQLite has one writer), inserts the deliveries, queues
//! their jobs and marks the events dispatched: a crash in between loses
//! nothing and sends nothing twice, and two instances never take the same
//! event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::ids::{OrganizationId, WebhookDeliveryId};
use landlord_core::{Config, Db, Timestamp};
use landlord_events::store as events;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::WebhooksConfig;
use crate::deliver::{self, DeliverPayload};
use crate::endpoint::EventFilter;
use crate::store::{self, AttemptCause, EndpointRow, NewDelivery};

/// Events taken per transaction.
const BATCH: i64 = 500;

/// Dispatches one batch of new events; returns how many events it took
/// (0: none were waiting).
pub async fn dispatch_once(db: &Db) -> Result<usize, sqlx::Error> {
    // A cheap indexed look first: most seconds have no new event, and on
    // SQLite a write transaction would take the writer lock for nothing.
    if !events::has_undispatched(db.pool()).await? {
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let batch = events::undispatched(&mut tx, db.backend(), BATCH).await?;
    if batch.is_empty() {
        return Ok(0);
    }
    let mut organizations: Vec<OrganizationId> =
        batch.iter().map(|e| e.organization_id.clone()).collect();
    organizations.sort();
    organizations.dedup();
    let mut endpoints: HashMap<OrganizationId, Vec<(EndpointRow, EventFilter)>> = HashMap::new();
    for row in store::enabled_endpoints_of(&mut tx, &organizations).await? {
        let filter = EventFilter::decode(&row.event_types);
        endpoints
            .entry(row.organization_id.clone())
            .or_default()
            .push((row, filter));
    }
    let mut deliveries = Vec::new();
    for event in &batch {
        for (endpoint, filter) in endpoints.get(&event.organization_id).into_iter().flatten() {
            // An endpoint receives what happens after it was created.
            if filter.accepts(event.event_type) && endpoint.created_at <= event.created_at {
                deliveries.push(NewDelivery {
                    id: WebhookDeliveryId::generate(),
                    organization_id: event.organization_id.clone(),
                    endpoint_id: endpoint.id.clone(),
                    event_id: event.id.clone(),
                });
            }
        }
    }
    let added = store::insert_deliveries(&mut tx, &deliveries, Timestamp::now()).await?;
    let jobs: Vec<_> = added
        .into_iter()
        .map(|delivery_id| {
            deliver::job(
                &DeliverPayload {
                    delivery_id,
                    seq: 0,
                    cause: AttemptCause::Scheduled,
                },
                None,
            )
        })
        .collect();
    landlord_jobs::enqueue_many(&mut tx, &jobs).await?;
    let ids: Vec<_> = batch.iter().map(|e| e.id.clone()).collect();
    events::mark_dispatched(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(batch.len())
}

/// The dispatcher task: a batch every `webhooks.dispatch_interval_ms`,
/// at once again while batches come full; wakes the job worker when it
/// queued deliveries. Ends when `stop` is cancelled.
pub async fn run(db: Db, config: Arc<Config>, jobs: Arc<Notify>, stop: CancellationToken) {
    let interval = Duration::from_millis(config.section::<WebhooksConfig>().dispatch_interval_ms);
    loop {
        let wait = match dispatch_once(&db).await {
            Ok(0) => interval,
            Ok(taken) => {
                jobs.notify_one();
                if taken as i64 >= BATCH {
                    Duration::ZERO
                } else {
                    interval
                }
            }
            Err(error) => {
                tracing::error!(%error, "dispatching events to webhook endpoints failed; retrying");
                interval.max(Duration::from_secs(1))
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
