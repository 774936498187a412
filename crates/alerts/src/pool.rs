//! This instance's database pool use, sampled every second and reported
//! (the mean of the samples) every 10 seconds to `db_pool_use`, where the
//! `db_pool_use` signal reads every instance's latest report.

use std::time::Duration;

use landlord_core::{Db, Timestamp};
use tokio_util::sync::CancellationToken;

/// Between two samples of the pool.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples per report.
const SAMPLES: u32 = 10;

/// Connections of `db`'s pool in use now.
fn in_use(db: &Db) -> u32 {
    let pool = db.pool();
    let open = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
    open - idle
}

/// Samples and reports until `stop`, under an instance id of its own.
pub async fn run(db: Db, stop: CancellationToken) {
    let instance = uuid::Uuid::now_v7().to_string();
    let max = db.pool().options().get_max_connections();
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut sum, mut count) = (0u64, 0u32);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        sum += u64::from(in_use(&db));
        count += 1;
        if count < SAMPLES {
            continue;
        }
        let mean = sum as f64 / f64::from(count);
        (sum, count) = (0, 0);
        if let Err(error) =
            crate::store::report_pool_use(&db, &instance, mean, max, Timestamp::now()).await
        {
            tracing::warn!(%error, "cannot report the database pool's use");
        }
    }
}
