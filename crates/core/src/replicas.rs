//! PostgreSQL read replicas: pools for reads that tolerate lag.
//!
//! Each replica's lag is measured every [`CHECK_EVERY`]; a replica that
//! does not answer, or lags the primary by more than the configured bound,
//! is skipped (reads go to the next healthy one, or to the primary) until
//! a later check finds it well again. Nothing here fails a request: a
//! replica's trouble is logged and shown in `/metrics`
//! (`landlord_database_replica_lag_seconds`,
//! `landlord_database_replica_healthy`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// How often each replica's lag is measured.
pub const CHECK_EVERY: Duration = Duration::from_millis(500);

/// How long a lag check may take before the replica counts as unreachable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The lag of a standby, in milliseconds: zero when it has replayed all
/// the WAL it received (an idle primary sends none, and the time since the
/// last replayed transaction would grow without anything being behind),
/// the age of the last replayed transaction otherwise. A server that is
/// not in recovery (a primary named as a replica) lags by nothing. A
/// standby whose WAL receiver is not streaming (the primary unreachable,
/// replication broken) has replayed all it received and would look
/// current while falling behind: its lag is unknown (NULL), and it is
/// skipped. (Without `pg_read_all_stats` the receiver's status reads NULL;
/// the receiver's presence is then what is checked.)
const LAG_SQL: &str = "SELECT CAST(CASE \
       WHEN NOT pg_is_in_recovery() THEN 0 \
       WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver \
                        WHERE COALESCE(status, 'streaming') = 'streaming') THEN NULL \
       WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
       ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000, 0) \
     END AS BIGINT)";

#[derive(Debug)]
struct Replica {
    /// `replica 1`, `replica 2`…: the metrics' label (never the URL, which
    /// may carry a password).
    label: String,
    pool: AnyPool,
    healthy: AtomicBool,
}

/// The configured replicas and which of them may serve reads now.
#[derive(Debug)]
pub struct Replicas {
    replicas: Vec<Replica>,
    max_lag_ms: i64,
    next: AtomicUsize,
}

impl Replicas {
    /// Pools for `urls`, connecting lazily (a replica down at start-up is
    /// skipped, not fatal); none is used before its first check passes.
    /// Starts the lag checks, which end when the returned value is dropped.
    pub fn start(
        urls: &[&str],
        max_lag: Duration,
        max_connections: u32,
    ) -> Result<Arc<Self>, sqlx::Error> {
        let mut replicas = Vec::with_capacity(urls.len());
        for (index, url) in urls.iter().enumerate() {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(CHECK_TIMEOUT)
                .connect_lazy(url)?;
            replicas.push(Replica {
                label: format!("replica {}", index + 1),
                pool,
                healthy: AtomicBool::new(false),
            });
        }
        let replicas = Arc::new(Self {
            replicas,
            max_lag_ms: i64::try_from(max_lag.as_millis()).unwrap_or(i64::MAX),
            next: AtomicUsize::new(0),
        });
        tokio::spawn(watch(Arc::downgrade(&replicas)));
        Ok(replicas)
    }

    /// A healthy replica's pool, in turn; `None` when none is healthy.
    pub fn pick(&self) -> Option<&AnyPool> {
        self.pick_replica().map(|replica| &replica.pool)
    }

    fn pick_replica(&self) -> Option<&Replica> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| &self.replicas[(start + offset) % count])
            .find(|replica| replica.healthy.load(Ordering::Relaxed))
    }

    /// Runs the read `run` on a healthy replica; when that replica fails
    /// it in a way that says the replica, not the query, is at fault (it
    /// went away, or cancelled the query for a conflict with the WAL it
    /// replays), the replica is skipped until its next check passes and
    /// `run` is tried again on `primary`. So a replica stopping between
    /// two checks costs the reads in flight a retry, not an error.
    pub(crate) async fn read<T, F, Answer>(
        &self,
        primary: &AnyPool,
        run: F,
    ) -> Result<T, sqlx::Error>
    where
        F: Fn(AnyPool) -> Answer,
        Answer: Future<Output = Result<T, sqlx::Error>>,
    {
        let Some(replica) = self.pick_replica() else {
            return run(primary.clone()).await;
        };
        match run(replica.pool.clone()).await {
            Err(error) if replica_at_fault(&error) => {
                replica.healthy.store(false, Ordering::Relaxed);
                metrics::gauge!("landlord_database_replica_healthy", "replica" => replica.label.clone())
                    .set(0.0);
                tracing::warn!(replica = %replica.label, %error, "a read failed on the replica: retried on the primary, the replica skipped until its next check");
                run(primary.clone()).await
            }
            answered => answered,
        }
    }

    /// Measures every replica once and marks it healthy or not.
    pub async fn check(&self) {
        for replica in &self.replicas {
            let measured = tokio::time::timeout(
                CHECK_TIMEOUT,
                sqlx::query_scalar::<_, Option<i64>>(LAG_SQL).fetch_one(&replica.pool),
            )
            .await;
            let healthy = match measured {
                Ok(Ok(None)) => {
                    tracing::warn!(replica = %replica.label, "replica is not streaming from the primary: reads go elsewhere");
                    false
                }
                Ok(Ok(Some(lag_ms))) => {
                    metrics::gauge!("landlord_database_replica_lag_seconds", "replica" => replica.label.clone())
                        .set(lag_ms as f64 / 1000.0);
                    if lag_ms > self.max_lag_ms {
                        tracing::warn!(replica = %replica.label, lag_ms, "replica lags beyond database_read_max_lag_ms: reads go elsewhere");
                    }
                    lag_ms <= self.max_lag_ms
                }
                Ok(Err(error)) => {
                    tracing::warn!(replica = %replica.label, %error, "replica unreachable: reads go elsewhere");
                    false
                }
                Err(_) => {
                    tracing::warn!(replica = %replica.label, "replica did not answer its lag check in time: reads go elsewhere");
                    false
                }
            };
            let was = replica.healthy.swap(healthy, Ordering::Relaxed);
            if healthy && !was {
                tracing::info!(replica = %replica.label, "replica serves reads");
            }
            metrics::gauge!("landlord_database_replica_healthy", "replica" => replica.label.clone())
                .set(if healthy { 1.0 } else { 0.0 });
        }
    }

    /// Closes every replica's connections.
    pub async fn close(&self) {
        for replica in &self.replicas {
            replica.pool.close().await;
        }
    }
}

/// Whether `error` says the replica cannot serve reads now rather than
/// that the query is wrong: a connection lost or refused, a pool with no
/// connection to give, the server shutting down (class 57P), a connection
/// exception (class 08), or a query cancelled because it conflicted with
/// the replay of the primary's WAL (40001 on a standby).
fn replica_at_fault(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "40001"
        }),
        _ => false,
    }
}

async fn watch(replicas: Weak<Replicas>) {
    loop {
        let Some(replicas) = replicas.upgrade() else {
            return;
        };
        replicas.check().await;
        drop(replicas);
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
