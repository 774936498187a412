//! Measuring each rule's signal and moving its state machine:
//! inactive → pending (crossed, waiting `for_secs`) → firing (notified
//! unless within the cooldown; notified later when the cooldown ends while
//! still firing) → resolved (notified exactly once, when the firing was)
//! → inactive. Each move is a compare-and-set in one transaction with its
//! history entry and its notification jobs, so one instance makes it.

use std::time::Duration;

use crate::config::{AlertChannel, AlertRule, AlertSignal, AlertsConfig};
use landlord_backup::BackupConfig;
use landlord_core::ids::AlertEventId;
use landlord_core::{Config, Db, Timestamp};
use landlord_jobs::NewJob;
use tokio::sync::Notify;

use crate::integrations::IntegrationStatus;
use crate::notify::{Notification, NOTIFY_JOB};
use crate::store::{self, AlertHistoryStatus, AlertStatus, HistoryRow, StateRow, Transition};

fn percent(part: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// Where the request counts behind the 5xx rate come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLog {
    /// The raw request log (`usage_raw_log`), through the answers it
    /// counts per minute: the window's first minute is read whole.
    Raw,
    /// The hourly counters only (the raw log is off): whole hours.
    Hourly,
}

impl RequestLog {
    /// The raw log when it is kept, the hourly counters otherwise.
    pub fn kept(raw_log: bool) -> Self {
        if raw_log {
            Self::Raw
        } else {
            Self::Hourly
        }
    }
}

/// What signals are measured with besides the database: where request
/// counts come from, and the backup settings (`backup_stale`). A bare
/// [`RequestLog`] stands for no backup settings (`backup_stale` is 0).
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub requests: RequestLog,
    pub backup: Option<&'a BackupConfig>,
}

impl<'a> Sources<'a> {
    /// As `config` sets them (`usage_raw_log`, `[backup]`).
    pub fn of(config: &'a Config) -> Self {
        Self {
            requests: RequestLog::kept(config.usage_raw_log),
            backup: Some(config.section::<BackupConfig>()),
        }
    }
}

impl From<RequestLog> for Sources<'static> {
    fn from(requests: RequestLog) -> Self {
        Self {
            requests,
            backup: None,
        }
    }
}

/// The value of `signal` over the `window` ending at `now`.
pub async fn measure<'a>(
    db: &Db,
    signal: AlertSignal,
    window: Duration,
    now: Timestamp,
    sources: impl Into<Sources<'a>>,
) -> Result<f64, sqlx::Error> {
    let Sources { requests, backup } = sources.into();
    let since = now.minus(window);
    Ok(match signal {
        AlertSignal::PaymentFailureRate => {
            let (failed, total) =
                landlord_payments::store::payment_failures_since(db, since).await?;
            percent(failed, total)
        }
        // Webhooks both ways: provider events that failed processing, and
        // attempts of organizations' outgoing deliveries that failed.
        AlertSignal::WebhookFailureRate => {
            let (failed, total) = landlord_payments::store::event_failures_since(db, since).await?;
            let (attempts, attempts_failed) =
                landlord_webhooks::store::attempt_outcomes_since(db.pool(), since).await?;
            percent(failed + attempts_failed, total + attempts)
        }
        AlertSignal::Http5xxRate => {
            let (errors, total) = match requests {
                RequestLog::Raw => {
                    landlord_metering::store::server_errors_in_minutes_since(db.pool(), since)
                        .await?
                }
                RequestLog::Hourly => {
                    landlord_metering::store::server_errors_in_hours_since(db.pool(), since).await?
                }
            };
            percent(errors, total)
        }
        AlertSignal::FailedSignInsPerMinute => {
            let failures =
                landlord_audit::store::count_action_since(db.pool(), "auth.login_failed", since)
                    .await?;
            let minutes = (window.as_secs_f64() / 60.0).max(1.0 / 60.0);
            failures as f64 / minutes
        }
        AlertSignal::DeadJobs => landlord_jobs::store::count_dead(db).await? as f64,
        AlertSignal::NewDiscrepancies => {
            landlord_payments::store::discrepancies_since(db, since).await? as f64
        }
        AlertSignal::BackupFailed => {
            landlord_backup::store::failures_since(db, since).await? as f64
        }
        AlertSignal::DbPoolUse => crate::store::highest_pool_use_since(db, since).await?,
        AlertSignal::BackupStale => match backup {
            Some(backup) => landlord_backup::schedule::staleness(db, backup, now).await?,
            None => 0.0,
        },
        AlertSignal::IntegrationsDegraded => {
            store::count_health_at_least(db, IntegrationStatus::Degraded).await? as f64
        }
        AlertSignal::IntegrationsDown => {
            store::count_health_at_least(db, IntegrationStatus::Down).await? as f64
        }
    })
}

/// What one evaluation of one rule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    /// Moved (this instance won the compare-and-set), with the number of
    /// notifications queued.
    Moved {
        status: AlertStatus,
        notifications: usize,
    },
    /// Another instance moved the rule first.
    Lost,
}

/// The next state of a rule in `state` whose value is `value` at `now`,
/// and whether a notification (firing or resolved) goes out. Pure.
pub fn next(
    rule: &AlertRule,
    state: &StateRow,
    value: f64,
    now: Timestamp,
) -> Option<(Transition, Option<AlertHistoryStatus>, bool)> {
    let crossed = value > rule.threshold;
    let cooled = state
        .last_notified_at
        .is_none_or(|at| now >= at.plus(Duration::from_secs(rule.cooldown_secs)));
    let firing = |since| {
        let notify = cooled;
        (
            Transition {
                status: AlertStatus::Firing,
                value,
                since: Some(since),
                notified: notify,
                last_notified_at: if notify {
                    Some(now)
                } else {
                    state.last_notified_at
                },
            },
            Some(AlertHistoryStatus::Firing),
            notify,
        )
    };
    let pending_over = |since: Timestamp| now >= since.plus(Duration::from_secs(rule.for_secs));
    let inactive = Transition {
        status: AlertStatus::Inactive,
        value,
        since: Some(now),
        notified: false,
        last_notified_at: state.last_notified_at,
    };
    match (state.status, crossed) {
        (AlertStatus::Inactive, false) => None,
        (AlertStatus::Inactive, true) if rule.for_secs == 0 => Some(firing(now)),
        (AlertStatus::Inactive, true) => Some((
            Transition {
                status: AlertStatus::Pending,
                value,
                since: Some(now),
                notified: false,
                last_notified_at: state.last_notified_at,
            },
            None,
            false,
        )),
        (AlertStatus::Pending, true) => {
            let since = state.since.unwrap_or(now);
            pending_over(since).then(|| firing(now))
        }
        (AlertStatus::Pending, false) => Some((inactive, None, false)),
        // Still firing: notified once the cooldown allows when it was not.
        (AlertStatus::Firing, true) if state.notified == 0 && cooled => Some((
            Transition {
                status: AlertStatus::Firing,
                value,
                since: state.since,
                notified: true,
                last_notified_at: Some(now),
            },
            None,
            true,
        )),
        (AlertStatus::Firing, true) => None,
        (AlertStatus::Firing, false) => {
            let notify = state.notified != 0;
            Some((inactive, Some(AlertHistoryStatus::Resolved), notify))
        }
    }
}

/// Evaluates one rule at `now`.
pub async fn evaluate_rule<'a>(
    db: &Db,
    config: &AlertsConfig,
    sources: impl Into<Sources<'a>>,
    name: &str,
    rule: &AlertRule,
    now: Timestamp,
) -> Result<Outcome, sqlx::Error> {
    let severity = rule.severity;
    store::ensure_state(db, name, severity, now).await?;
    let window = Duration::from_secs(rule.window_secs);
    let value = measure(db, rule.signal, window, now, sources).await?;
    let mut tx = db.begin().await?;
    let Some(state) = store::state(&mut *tx, name).await? else {
        return Ok(Outcome::Unchanged);
    };
    let Some((transition, history, notify)) = next(rule, &state, value, now) else {
        return Ok(Outcome::Unchanged);
    };
    if !store::transition(&mut tx, name, state.version, severity, &transition, now).await? {
        return Ok(Outcome::Lost);
    }
    let id = AlertEventId::generate();
    if let Some(status) = history {
        store::record(
            &mut tx,
            &HistoryRow {
                id: id.clone(),
                rule: name.to_string(),
                severity,
                status,
                value,
                notified: i64::from(notify),
                at: now,
            },
        )
        .await?;
    }
    let mut notifications = 0;
    if notify {
        let status = match history {
            Some(AlertHistoryStatus::Resolved) => AlertHistoryStatus::Resolved,
            _ => AlertHistoryStatus::Firing,
        };
        let mut jobs = Vec::new();
        let mut mails = Vec::new();
        for (channel, target) in config.channels.of(rule.severity).iter().enumerate() {
            let notification = Notification {
                id: id.clone(),
                rule: name.to_string(),
                severity,
                status,
                value,
                threshold: rule.threshold,
                at: now,
                channel,
            };
            match target {
                // Mail goes through the mail outbox like every mail.
                AlertChannel::Email { to } => {
                    mails.extend(to.iter().map(|address| notification.mail(address)))
                }
                AlertChannel::Slack { .. } | AlertChannel::Webhook { .. } => {
                    jobs.push(NewJob::new(NOTIFY_JOB, notification.payload()))
                }
            }
        }
        notifications = jobs.len() + mails.len();
        if !jobs.is_empty() {
            landlord_jobs::enqueue_many(&mut tx, &jobs).await?;
        }
        if !mails.is_empty() {
            landlord_mail::queue_many(&mut tx, &mails).await?;
        }
    }
    tx.commit().await?;
    Ok(Outcome::Moved {
        status: transition.status,
        notifications,
    })
}

/// Moves a rule no longer configured back to inactive (no history, no
/// notification).
async fn retire(db: &Db, state: &StateRow, now: Timestamp) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let inactive = Transition {
        status: AlertStatus::Inactive,
        value: state.value,
        since: Some(now),
        notified: false,
        last_notified_at: state.last_notified_at,
    };
    if store::transition(
        &mut tx,
        &state.rule,
        state.version,
        state.severity,
        &inactive,
        now,
    )
    .await?
    {
        tx.commit().await?;
    }
    Ok(())
}

/// Evaluates every enabled rule at `now`; a rule whose evaluation fails is
/// logged and the others still run. Wakes `worker` when notifications
/// were queued.
pub async fn evaluate_all<'a>(
    db: &Db,
    config: &AlertsConfig,
    sources: impl Into<Sources<'a>>,
    now: Timestamp,
    worker: Option<&Notify>,
) -> Vec<(String, Outcome)> {
    let sources = sources.into();
    let mut outcomes = Vec::new();
    for (name, rule) in config.rules.iter().filter(|(_, r)| r.enabled) {
        match evaluate_rule(db, config, sources, name, rule, now).await {
            Ok(outcome) => outcomes.push((name.clone(), outcome)),
            Err(error) => tracing::error!(rule = %name, %error, "cannot evaluate an alert rule"),
        }
    }
    // A rule taken out of the configuration (or disabled) stops being
    // active: quietly, without a notification.
    match store::active(db).await {
        Ok(active) => {
            for state in active {
                let configured = config.rules.get(&state.rule).is_some_and(|r| r.enabled);
                if !configured {
                    if let Err(error) = retire(db, &state, now).await {
                        tracing::error!(rule = %state.rule, %error, "cannot retire an alert rule");
                    }
                }
            }
        }
        Err(error) => tracing::error!(%error, "cannot list the active alerts"),
    }
    let queued = outcomes
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Moved { notifications, .. } if *notifications > 0));
    if let (true, Some(worker)) = (queued, worker) {
        worker.notify_one();
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertSeverity;

    fn rule(for_secs: u64) -> AlertRule {
        AlertRule {
            signal: AlertSignal::DeadJobs,
            severity: AlertSeverity::Warning,
            threshold: 0.0,
            window_secs: 0,
            for_secs,
            cooldown_secs: 3600,
            enabled: true,
        }
    }

    fn state(status: AlertStatus, since: i64, notified: bool, last: Option<i64>) -> StateRow {
        StateRow {
            rule: "r".into(),
            severity: AlertSeverity::Warning,
            status,
            value: 0.0,
            since: Some(Timestamp::from_millis(since)),
            notified: i64::from(notified),
            last_notified_at: last.map(Timestamp::from_millis),
            version: 1,
        }
    }

    const S: i64 = 1000;

    #[test]
    fn pending_waits_for_its_period_then_fires_and_notifies() {
        let r = rule(60);
        let inactive = state(AlertStatus::Inactive, 0, false, None);
        let (t, history, notify) = next(&r, &inactive, 1.0, Timestamp::from_millis(0)).unwrap();
        assert_eq!(
            (t.status, history, notify),
            (AlertStatus::Pending, None, false)
        );
        let pending = state(AlertStatus::Pending, 0, false, None);
        assert!(next(&r, &pending, 1.0, Timestamp::from_millis(59 * S)).is_none());
        let (t, history, notify) = next(&r, &pending, 1.0, Timestamp::from_millis(60 * S)).unwrap();
        assert_eq!(
            (t.status, history, notify),
            (AlertStatus::Firing, Some(AlertHistoryStatus::Firing), true)
        );
        let (t, _, _) = next(&r, &pending, 0.0, Timestamp::from_millis(30 * S)).unwrap();
        assert_eq!(
            t.status,
            AlertStatus::Inactive,
            "a dip ends the pending period"
        );
    }

    #[test]
    fn the_cooldown_holds_the_notification_back_and_resolving_notifies_once() {
        let r = rule(0);
        let inactive = state(AlertStatus::Inactive, 0, false, Some(0));
        let (t, history, notify) =
            next(&r, &inactive, 1.0, Timestamp::from_millis(60 * S)).unwrap();
        assert_eq!(
            (t.status, history, notify, t.notified),
            (
                AlertStatus::Firing,
                Some(AlertHistoryStatus::Firing),
                false,
                false
            )
        );
        let quiet = state(AlertStatus::Firing, 60 * S, false, Some(0));
        assert!(next(&r, &quiet, 1.0, Timestamp::from_millis(3599 * S)).is_none());
        let (t, history, notify) = next(&r, &quiet, 1.0, Timestamp::from_millis(3600 * S)).unwrap();
        assert_eq!(
            (t.status, history, notify),
            (AlertStatus::Firing, None, true)
        );
        let (_, history, notify) = next(&r, &quiet, 0.0, Timestamp::from_millis(100 * S)).unwrap();
        assert_eq!(
            (history, notify),
            (Some(AlertHistoryStatus::Resolved), false),
            "an unnotified firing resolves quietly"
        );
        let loud = state(AlertStatus::Firing, 60 * S, true, Some(60 * S));
        let (t, history, notify) = next(&r, &loud, 0.0, Timestamp::from_millis(100 * S)).unwrap();
        assert_eq!(
            (t.status, history, notify),
            (
                AlertStatus::Inactive,
                Some(AlertHistoryStatus::Resolved),
                true
            )
        );
        assert!(next(
            &r,
            &state(AlertStatus::Inactive, 0, false, None),
            0.0,
            Timestamp::from_millis(0)
        )
        .is_none());
    }
}
