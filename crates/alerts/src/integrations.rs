//! Integration health: each configured integration — the SMTP server,
//! Stripe, Paystack, each WhatsApp channel, outgoing webhooks overall —
//! gets a status (healthy, degraded, down) from a light probe (an
//! authenticated call that proves the credentials, with its latency) and
//! the recent error rate of real calls. [`probe_all`] runs a round and
//! stores the latest status per integration (`integration_health`);
//! [`assess`] is the rule, pure.
//!
//! Real calls are counted in memory where they are made
//! (`landlord_core::calls`); every instance moves its counts into
//! per-minute buckets (`integration_calls`) every [`FLUSH_INTERVAL`]
//! ([`run_flusher`]), and a probe round sums the buckets of the last
//! [`ERROR_WINDOW`], so the rate covers every instance's calls.
//!
//! The thresholds:
//! - **down**: the probe failed [`DOWN_AFTER_FAILURES`] times in a row, or
//!   more than [`DOWN_ERROR_PERCENT`] % of the real calls of the last
//!   [`ERROR_WINDOW`] failed (with at least [`MIN_CALLS`] calls);
//! - **degraded**: the last probe failed (fewer times in a row), or it
//!   took longer than [`SLOW_PROBE_MS`], or more than
//!   [`DEGRADED_ERROR_PERCENT`] % of the real calls failed;
//! - **healthy** otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use landlord_core::calls::CallCounts;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{Config, Db, Timestamp};
use landlord_inbox::graph::GraphClient;
use landlord_mail::Mailer;
use landlord_payments::providers::{ProviderName, Providers};
use tokio_util::sync::CancellationToken;

use crate::store::{self, HealthRow};

/// A probe slower than this (milliseconds) makes the integration degraded.
pub const SLOW_PROBE_MS: i64 = 1000;
/// Failed probes in a row that make an integration down.
pub const DOWN_AFTER_FAILURES: i64 = 3;
/// Failed real calls above this share (%) make an integration degraded.
pub const DEGRADED_ERROR_PERCENT: f64 = 5.0;
/// Failed real calls above this share (%) make an integration down.
pub const DOWN_ERROR_PERCENT: f64 = 50.0;
/// Fewer real calls than this in the window say nothing about the rate.
pub const MIN_CALLS: i64 = 5;
/// The window real calls are counted over.
pub const ERROR_WINDOW: Duration = Duration::from_secs(15 * 60);
/// A probe that has not answered after this has failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often every instance writes the calls it counted.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

landlord_core::text_enum!(
    /// How an integration is doing.
    pub enum IntegrationStatus {
        Healthy = "healthy",
        Degraded = "degraded",
        Down = "down",
    }
);

landlord_core::text_enum!(
    /// What an integration is.
    pub enum IntegrationKind {
        Smtp = "smtp",
        Stripe = "stripe",
        Paystack = "paystack",
        Whatsapp = "whatsapp",
        Webhooks = "webhooks",
    }
);

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub latency_ms: i64,
    /// Why it failed; `None` when it succeeded.
    pub error: Option<String>,
}

/// What one round saw of an integration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// `None` for an integration that is not probed (webhooks: many
    /// receivers, none of them ours).
    pub probe: Option<Probe>,
    /// Real calls in the window, and how many failed.
    pub calls: i64,
    pub failed_calls: i64,
}

/// The status `seen` gives an integration whose probe had failed
/// `failures_before` times in a row; with the new count of failures in a
/// row and the reason when not healthy.
pub fn assess(
    failures_before: i64,
    seen: &Observation,
) -> (IntegrationStatus, i64, Option<String>) {
    let failures = match &seen.probe {
        Some(Probe { error: Some(_), .. }) => failures_before + 1,
        _ => 0,
    };
    let rate =
        (seen.calls >= MIN_CALLS).then(|| seen.failed_calls as f64 * 100.0 / seen.calls as f64);
    let rate_reason = |rate: f64| {
        format!(
            "{rate:.0} % of {} calls in the last {} minutes failed",
            seen.calls,
            ERROR_WINDOW.as_secs() / 60
        )
    };
    if let Some(Probe {
        error: Some(error), ..
    }) = &seen.probe
    {
        if failures >= DOWN_AFTER_FAILURES {
            return (
                IntegrationStatus::Down,
                failures,
                Some(format!(
                    "the probe failed {failures} times in a row: {error}"
                )),
            );
        }
    }
    if let Some(rate) = rate.filter(|r| *r > DOWN_ERROR_PERCENT) {
        return (IntegrationStatus::Down, failures, Some(rate_reason(rate)));
    }
    if let Some(Probe {
        error: Some(error), ..
    }) = &seen.probe
    {
        return (
            IntegrationStatus::Degraded,
            failures,
            Some(format!("the probe failed: {error}")),
        );
    }
    if let Some(Probe { latency_ms, .. }) = &seen.probe {
        if *latency_ms > SLOW_PROBE_MS {
            return (
                IntegrationStatus::Degraded,
                failures,
                Some(format!(
                    "the probe took {latency_ms} ms (more than {SLOW_PROBE_MS} ms)"
                )),
            );
        }
    }
    if let Some(rate) = rate.filter(|r| *r > DEGRADED_ERROR_PERCENT) {
        return (
            IntegrationStatus::Degraded,
            failures,
            Some(rate_reason(rate)),
        );
    }
    (IntegrationStatus::Healthy, failures, None)
}

/// Times `call`, a probe.
async fn timed<E: std::fmt::Display>(
    call: impl std::future::Future<Output = Result<(), E>>,
) -> Probe {
    let started = Instant::now();
    let outcome = call.await;
    Probe {
        latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        error: outcome.err().map(|e| e.to_string()),
    }
}

/// What a probe round reaches: the payment providers and the mailer as
/// `config` sets them, the WhatsApp channels when given the key that
/// opens their tokens, and the counts of real calls.
pub struct Targets {
    pub providers: Providers,
    /// `None`: the mail settings are invalid (the server would not start).
    pub mailer: Option<Mailer>,
    /// This instance's counts of real calls, written before each round.
    pub calls: CallCounts,
    /// The WhatsApp channels' key and Graph API client; `None`: channels
    /// are not probed.
    whatsapp: Option<(PayloadCipher, GraphClient)>,
    config: Arc<Config>,
}

impl Targets {
    pub fn of(config: &Config) -> Self {
        Self {
            providers: Providers::from_config(config),
            mailer: Mailer::from_config(config).ok(),
            calls: CallCounts::of(config),
            whatsapp: None,
            config: Arc::new(config.clone()),
        }
    }

    /// Probes every organization's WhatsApp channels too, opening their
    /// access tokens with `cipher`.
    pub fn with_whatsapp(mut self, cipher: PayloadCipher) -> anyhow::Result<Self> {
        self.whatsapp = Some((cipher, GraphClient::new()?));
        Ok(self)
    }
}

/// The minute `at` falls in (its start).
fn minute_of(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.millis() - at.millis().rem_euclid(60_000))
}

/// Writes the calls `calls` counted since the last flush into the bucket
/// of `now`'s minute; on failure they are kept for the next flush.
pub async fn flush(db: &Db, calls: &CallCounts, now: Timestamp) -> Result<(), sqlx::Error> {
    let taken = calls.take();
    for (n, (integration, count, failed)) in taken.iter().enumerate() {
        let written = store::add_calls(
            db,
            integration,
            minute_of(now),
            i64::try_from(*count).unwrap_or(i64::MAX),
            i64::try_from(*failed).unwrap_or(i64::MAX),
        )
        .await;
        if let Err(error) = written {
            calls.give_back(&taken[n..]);
            return Err(error);
        }
    }
    Ok(())
}

/// Writes this instance's counts of real calls every [`FLUSH_INTERVAL`]
/// until `stop`, and once more then. Every instance runs it.
pub async fn run_flusher(db: Db, config: Arc<Config>, stop: CancellationToken) {
    let calls = CallCounts::of(&config);
    let mut ticker = tokio::time::interval(FLUSH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = ticker.tick() => false,
        };
        if let Err(error) = flush(&db, &calls, Timestamp::now()).await {
            tracing::warn!(%error, "cannot write the counts of integration calls");
        }
        if stopping {
            return;
        }
    }
}

/// A probe within [`PROBE_TIMEOUT`].
async fn within_timeout<E: std::fmt::Display>(
    call: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, call).await {
        Ok(outcome) => outcome.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// Observes every configured integration at `now`, stores each one's
/// status and forgets the integrations no longer configured. Returns
/// the stored rows.
pub async fn probe_all(
    db: &Db,
    targets: &Targets,
    now: Timestamp,
) -> Result<Vec<HealthRow>, sqlx::Error> {
    flush(db, &targets.calls, now).await?;
    store::forget_calls_before(db, now.minus(ERROR_WINDOW * 2)).await?;
    let counted = store::calls_since(db, minute_of(now.minus(ERROR_WINDOW))).await?;
    let real_calls = |integration: &str| {
        counted
            .iter()
            .find(|(name, _, _)| name == integration)
            .map_or((0, 0), |(_, calls, failed)| (*calls, *failed))
    };
    let observed = |integration: &str, probe: Probe| {
        let (calls, failed_calls) = real_calls(integration);
        Observation {
            probe: Some(probe),
            calls,
            failed_calls,
        }
    };
    let mut seen: Vec<(String, IntegrationKind, Observation)> = Vec::new();
    if let Some(mailer) = &targets.mailer {
        if mailer.has_smtp() {
            let probe = timed(async { mailer.probe().await.unwrap_or(Ok(())) }).await;
            seen.push((
                "smtp".into(),
                IntegrationKind::Smtp,
                observed("smtp", probe),
            ));
        }
    }
    for (provider, kind) in [
        (ProviderName::Stripe, IntegrationKind::Stripe),
        (ProviderName::Paystack, IntegrationKind::Paystack),
    ] {
        if !targets.providers.configured(provider) {
            continue;
        }
        let probe = timed(async {
            targets
                .providers
                .probe(provider, PROBE_TIMEOUT)
                .await
                .unwrap_or(Ok(()))
        })
        .await;
        seen.push((
            provider.to_string(),
            kind,
            observed(provider.as_str(), probe),
        ));
    }
    if let Some((cipher, graph)) = &targets.whatsapp {
        let channels = landlord_inbox::graph::probe_targets(db, cipher).await?;
        for (channel, unopened) in channels {
            let probe = match unopened {
                Some(error) => Probe {
                    latency_ms: 0,
                    error: Some(error),
                },
                None => {
                    timed(within_timeout(landlord_inbox::graph::probe(
                        graph,
                        &targets.config,
                        &channel,
                    )))
                    .await
                }
            };
            let observation = observed(&channel.integration, probe);
            seen.push((channel.integration, IntegrationKind::Whatsapp, observation));
        }
    }
    let (calls, failed_calls) =
        landlord_webhooks::store::attempt_outcomes_since(db.pool(), now.minus(ERROR_WINDOW))
            .await?;
    seen.push((
        "webhooks".into(),
        IntegrationKind::Webhooks,
        Observation {
            probe: None,
            calls,
            failed_calls,
        },
    ));

    let before = store::health(db).await?;
    for row in &before {
        if !seen.iter().any(|(name, _, _)| *name == row.integration) {
            store::forget_health(db, &row.integration).await?;
        }
    }
    let mut rows = Vec::with_capacity(seen.len());
    for (integration, kind, observation) in seen {
        let failures_before = before
            .iter()
            .find(|r| r.integration == integration)
            .map_or(0, |r| r.consecutive_failures);
        let (status, consecutive_failures, reason) = assess(failures_before, &observation);
        let row = HealthRow {
            integration,
            kind,
            status,
            latency_ms: observation.probe.as_ref().map(|p| p.latency_ms),
            calls: observation.calls,
            failed_calls: observation.failed_calls,
            consecutive_failures,
            reason,
            checked_at: now,
            since: now,
        };
        store::save_health(db, &row).await?;
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(latency_ms: i64, error: Option<&str>) -> Observation {
        Observation {
            probe: Some(Probe {
                latency_ms,
                error: error.map(str::to_string),
            }),
            ..Observation::default()
        }
    }

    fn calls(calls: i64, failed_calls: i64) -> Observation {
        Observation {
            probe: None,
            calls,
            failed_calls,
        }
    }

    #[test]
    fn a_slow_probe_degrades_and_failures_in_a_row_take_it_down() {
        assert_eq!(assess(0, &probe(80, None)).0, IntegrationStatus::Healthy);
        assert_eq!(assess(0, &probe(1001, None)).0, IntegrationStatus::Degraded);
        let (status, failures, _) = assess(0, &probe(5, Some("500")));
        assert_eq!((status, failures), (IntegrationStatus::Degraded, 1));
        let (status, failures, _) = assess(1, &probe(5, Some("500")));
        assert_eq!((status, failures), (IntegrationStatus::Degraded, 2));
        let (status, failures, reason) = assess(2, &probe(5, Some("500")));
        assert_eq!((status, failures), (IntegrationStatus::Down, 3));
        assert!(reason.unwrap_or_default().contains("3 times"));
        let (status, failures, _) = assess(7, &probe(5, None));
        assert_eq!((status, failures), (IntegrationStatus::Healthy, 0));
    }

    #[test]
    fn the_error_rate_of_real_calls_degrades_then_takes_down() {
        assert_eq!(assess(0, &calls(100, 5)).0, IntegrationStatus::Healthy);
        assert_eq!(assess(0, &calls(100, 6)).0, IntegrationStatus::Degraded);
        assert_eq!(assess(0, &calls(100, 50)).0, IntegrationStatus::Degraded);
        assert_eq!(assess(0, &calls(100, 51)).0, IntegrationStatus::Down);
        assert_eq!(
            assess(0, &calls(4, 4)).0,
            IntegrationStatus::Healthy,
            "too few calls say nothing"
        );
        assert_eq!(assess(0, &calls(0, 0)).0, IntegrationStatus::Healthy);
    }
}
