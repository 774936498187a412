//! `serve`'s scheduled snapshots: every instance looks often, one claims
//! each due time (`store::claim_due`, a compare-and-set in the database),
//! takes the snapshot and prunes the destination by retention.

use std::time::Duration;

use landlord_core::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::manifest::Trigger;
use crate::snapshot::Backups;
use crate::store;

/// How often an instance looks whether a snapshot is due: a quarter of the
/// interval, between 100 ms and 15 s.
pub fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(15))
}

/// Takes the scheduled snapshots until `stop`.
pub async fn run(backups: Backups, stop: CancellationToken) {
    let interval = backups.settings().interval();
    let mut ticker = tokio::time::interval(check_period(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let db = backups.db();
        // A claim outlives any snapshot that finishes: one interval, at
        // least ten minutes (a large database over a slow link).
        let lease = interval.max(Duration::from_secs(600));
        match store::claim_due(db, Timestamp::now(), interval, lease).await {
            Ok(true) => {
                // Failures are recorded, counted and logged by `take`.
                let _ = backups.take(Trigger::Scheduled).await;
                if let Err(error) = store::release_claim(db).await {
                    tracing::warn!(%error, "could not release the backup schedule's claim");
                }
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not read the backup schedule"),
        }
    }
}
