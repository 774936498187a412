//! The marketplace's periodic work, on every instance that sweeps: expire
//! unpaid orders (their stock returns) and create the payouts that are
//! due. Both are safe to run concurrently: each order and vendor order
//! moves once, by a conditional update.

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Config, Db, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::MarketplaceConfig;
use crate::store::{self, OrderStatus};

/// One sweep: how many orders expired and payouts were created.
pub async fn sweep_once(db: &Db, config: &Config) -> anyhow::Result<(usize, usize)> {
    let mut expired = 0;
    for id in store::expired_orders(db.pool(), Timestamp::now(), 500).await? {
        if crate::payment::release(db, &id, OrderStatus::Expired, "expired").await? {
            expired += 1;
        }
    }
    let hold = Duration::from_secs(config.section::<MarketplaceConfig>().payout_hold_secs);
    let payouts = crate::payouts::create_due(db, hold).await?;
    Ok((expired, payouts))
}

/// Sweeps every `sweep_interval_ms` until `stop`; wakes the job worker
/// when payouts were queued.
pub async fn run(db: Db, config: Arc<Config>, jobs: Arc<Notify>, stop: CancellationToken) {
    let every = Duration::from_millis(config.section::<MarketplaceConfig>().sweep_interval_ms);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match sweep_once(&db, &config).await {
            Ok((expired, payouts)) => {
                if payouts > 0 {
                    jobs.notify_one();
                }
                if expired + payouts > 0 {
                    tracing::info!(expired, payouts, "marketplace sweep");
                }
            }
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "marketplace sweep failed"),
        }
    }
}
