//! Operator alerts: rules in configuration
//! (`crate::config`) over signals measured from the database
//! (`evaluate::measure`, through the owning features' stores), a state
//! machine per rule kept in `alert_states` (`evaluate`, `store`), a
//! notification job per channel (`notify`), the evaluator task every
//! instance runs (`run`), and `GET /admin/alerts` (`routes`), which the
//! operator console's alerts page (`pages`, registered with the console's
//! shell) reads through the same `routes::overview`. Integration health
//! (`integrations`): a probe round per evaluation stores each
//! integration's status, which `GET /admin/integrations` shows and the
//! `integrations_*` signals count.

pub mod config;
pub mod evaluate;
pub mod integrations;
pub mod notify;
pub mod pages;
pub mod pool;
pub mod routes;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use crate::config::AlertsConfig;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{Config, Db, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use evaluate::{evaluate_all, Outcome, RequestLog, Sources};
pub use integrations::run_flusher;
pub use notify::{Notification, NotifyJob, NOTIFY_JOB};
pub use routes::{router, AlertsOverview};

/// Evaluates every rule each `alerts.interval_secs` until `stop`, after
/// a probe round of the integrations (`cipher` opens the WhatsApp
/// channels' tokens).
pub async fn run(
    db: Db,
    config: Arc<Config>,
    cipher: PayloadCipher,
    worker: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(
        config.section::<AlertsConfig>().interval_secs,
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sources = Sources::of(&config);
    let alerts = config.section::<AlertsConfig>();
    let targets = match integrations::Targets::of(&config).with_whatsapp(cipher) {
        Ok(targets) => targets,
        Err(error) => {
            tracing::error!(%error, "WhatsApp channels will not be probed");
            integrations::Targets::of(&config)
        }
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {
                if let Err(error) = integrations::probe_all(&db, &targets, Timestamp::now()).await {
                    tracing::error!(%error, "cannot store the integrations' health");
                }
                evaluate_all(&db, alerts, sources, Timestamp::now(), Some(&worker)).await;
            }
        }
    }
}
