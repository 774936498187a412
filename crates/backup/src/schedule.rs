//! `serve`'s scheduled snapshots: every instance looks often, one claims
//! each due time (`store::claim_due`, a compare-and-set in the database),
//! takes the snapshot and prunes the destination by retention.

use std::time::Duration;

use landlord_core::config::DatabaseKind;
use landlord_core::{Db, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::config::BackupConfig;
use crate::destination::{Destination, Location};
use crate::error::BackupError;
use crate::manifest::Trigger;
use crate::retention::{self, Retention};
use crate::snapshot::Backups;
use crate::store;

/// How often an instance looks whether a snapshot is due: a quarter of the
/// interval, between 100 ms and 15 s.
pub fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_millis(100), Duration::from_secs(15))
}

/// How long a claim on the schedule holds: one interval, at least ten
/// minutes (a large database over a slow link). An attempt still
/// `running` after that was left by an instance that stopped.
pub fn lease(interval: Duration) -> Duration {
    interval.max(Duration::from_secs(600))
}

/// Takes the scheduled snapshots until `stop`.
pub async fn run(backups: Backups, stop: CancellationToken) {
    let interval = backups.settings().interval();
    let lease = lease(interval);
    let mut ticker = tokio::time::interval(check_period(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let db = backups.db();
        let now = Timestamp::now();
        // Attempts an instance left `running` when it died count as failed
        // (the operator sees them, `backup_failed` fires).
        match store::fail_abandoned(db, now.minus(lease), now).await {
            Ok(0) => {}
            Ok(abandoned) => tracing::warn!(
                abandoned,
                "backups left unfinished by a stopped instance are recorded as failed"
            ),
            Err(error) => tracing::warn!(%error, "could not look for abandoned backups"),
        }
        match store::claim_due(db, now, interval, lease).await {
            Ok(true) => {
                // Failures are recorded, counted and logged by `take`.
                let taken = backups.take(Trigger::Scheduled).await;
                // Retention runs after a snapshot that succeeded only: a
                // failing destination keeps what it holds.
                if let (Ok(_), Some(destination)) = (&taken, backups.destination()) {
                    prune_logged(destination, backups.settings()).await;
                }
                if let Err(error) = store::release_claim(db).await {
                    tracing::warn!(%error, "could not release the backup schedule's claim");
                }
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not read the backup schedule"),
        }
    }
}

/// What pruning did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The snapshots deleted.
    pub deleted: Vec<String>,
    /// The snapshots kept.
    pub kept: usize,
}

/// Deletes the snapshots at `destination` that `retention` lets go at
/// `now`. Tries every one; the first failure is returned after the rest
/// were tried.
pub async fn prune(
    destination: &Destination,
    retention: Retention,
    now: Timestamp,
) -> Result<Pruned, BackupError> {
    let snapshots = destination.list().await?;
    let created: Vec<Timestamp> = snapshots.iter().map(|s| s.manifest.created_at).collect();
    let doomed = retention::to_delete(&created, now, retention);
    let mut deleted = Vec::with_capacity(doomed.len());
    let mut failure = None;
    for index in &doomed {
        let name = &snapshots[*index].manifest.name;
        match destination.delete(name).await {
            Ok(()) => deleted.push(name.clone()),
            Err(error) => {
                tracing::warn!(snapshot = %name, %error, "could not delete an expired snapshot");
                failure.get_or_insert(error);
            }
        }
    }
    metrics::counter!("landlord_backup_pruned_total").increment(deleted.len() as u64);
    match failure {
        Some(error) => Err(error),
        None => Ok(Pruned {
            kept: snapshots.len() - deleted.len(),
            deleted,
        }),
    }
}

/// Prunes after a scheduled snapshot: logged, and a failure counted in
/// `/metrics` (`landlord_backup_prune_failures_total`), never failing the
/// snapshot itself.
async fn prune_logged(destination: &Destination, settings: &BackupConfig) {
    match prune(destination, Retention::of(settings), Timestamp::now()).await {
        Ok(pruned) => tracing::info!(
            destination = %destination.location(),
            deleted = pruned.deleted.len(),
            kept = pruned.kept,
            "expired backups pruned"
        ),
        Err(error) => {
            metrics::counter!("landlord_backup_prune_failures_total").increment(1);
            metrics::gauge!("landlord_backup_last_prune_failure_timestamp_seconds")
                .set(Timestamp::now().millis() as f64 / 1000.0);
            tracing::error!(
                destination = %destination.location(),
                %error,
                "could not prune expired backups (the snapshot itself was taken)"
            );
        }
    }
}

/// The `backup_stale` signal at `now`: the age of the newest snapshot that
/// succeeded, in intervals; with none yet, the time since the first
/// attempt; 0 when nothing ever ran. Pure.
pub fn stale_ratio(
    newest_success: Option<Timestamp>,
    first_attempt: Option<Timestamp>,
    interval: Duration,
    now: Timestamp,
) -> f64 {
    let Some(since) = newest_success.or(first_attempt) else {
        return 0.0;
    };
    let age = now.millis().saturating_sub(since.millis()).max(0) as f64 / 1000.0;
    age / interval.as_secs_f64().max(0.001)
}

/// `backup_stale` measured from the attempts recorded for the configured
/// destination: 0 when backups are not taken here (no destination, or
/// PostgreSQL, which has its own tools).
pub async fn staleness(db: &Db, config: &BackupConfig, now: Timestamp) -> Result<f64, sqlx::Error> {
    if config.destination.is_empty() || db.backend() != DatabaseKind::Sqlite {
        return Ok(0.0);
    }
    let Ok(location) = Location::parse(&config.destination) else {
        return Ok(0.0);
    };
    // Attempts record the destination as it is displayed.
    let destination = location.to_string();
    let newest = store::newest_success_at(db, &destination).await?;
    let first = match newest {
        Some(_) => None,
        None => store::first_run_to(db, &destination).await?,
    };
    Ok(stale_ratio(newest, first, config.interval(), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn staleness_counts_intervals_since_the_newest_success() {
        let interval = Duration::from_secs(15 * 60);
        let now = Timestamp::from_millis(1_796_515_200_000);
        let ago = |minutes: i64| Some(Timestamp::from_millis(now.millis() - minutes * MINUTE));
        // Nothing ever ran: not stale.
        assert_eq!(stale_ratio(None, None, interval, now), 0.0);
        // The newest success 15 min ago: one interval.
        assert_eq!(stale_ratio(ago(15), ago(600), interval, now), 1.0);
        // 31 min: past the default threshold of 2.
        assert!(stale_ratio(ago(31), None, interval, now) > 2.0);
        assert!(stale_ratio(ago(30), None, interval, now) <= 2.0);
        // Never succeeded: measured from the first attempt.
        assert_eq!(stale_ratio(None, ago(45), interval, now), 3.0);
        // A clock behind the recorded time: 0, not negative.
        assert_eq!(stale_ratio(ago(-5), None, interval, now), 0.0);
    }

    #[test]
    fn the_lease_outlives_a_snapshot() {
        assert_eq!(lease(Duration::from_secs(2)), Duration::from_secs(600));
        assert_eq!(lease(Duration::from_secs(3600)), Duration::from_secs(3600));
        assert_eq!(
            check_period(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
    }
}
