//! Alerts' SQL: its tables are `alert_states` and `alert_history` (every
//! transition is a compare-and-set on `version`), `integration_health` and
//! `integration_calls` (integrations' status and their real calls), and
//! `db_pool_use` (each instance's database pool use, for the pool's alert).

use landlord_core::ids::AlertEventId;
use landlord_core::{Db, Timestamp};
use sqlx::{Any, AnyConnection, Executor};

pub use crate::config::AlertSeverity as Severity;

landlord_core::text_enum!(
    /// Where a rule's state machine stands.
    pub enum AlertStatus {
        /// The threshold is not crossed.
        Inactive = "inactive",
        /// Crossed, waiting for the rule's pending period.
        Pending = "pending",
        /// Crossed for the pending period: notified (or within cooldown).
        Firing = "firing",
    }
);

landlord_core::text_enum!(
    /// What a history entry records.
    pub enum AlertHistoryStatus {
        Firing = "firing",
        Resolved = "resolved",
    }
);

/// A rule's stored state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StateRow {
    pub rule: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub value: f64,
    pub since: Option<Timestamp>,
    pub notified: i64,
    pub last_notified_at: Option<Timestamp>,
    pub version: i64,
}

/// The new state a transition writes.
#[derive(Debug, Clone)]
pub struct Transition {
    pub status: AlertStatus,
    pub value: f64,
    pub since: Option<Timestamp>,
    pub notified: bool,
    pub last_notified_at: Option<Timestamp>,
}

/// Creates `rule`'s state (inactive) when it has none yet.
pub async fn ensure_state(
    db: &Db,
    rule: &str,
    severity: Severity,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_states (rule, severity, status, updated_at) \
         VALUES ($1, $2, 'inactive', $3) ON CONFLICT (rule) DO NOTHING",
    )
    .bind(rule)
    .bind(severity)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

const STATE_COLUMNS: &str =
    "rule, severity, status, value, since, notified, last_notified_at, version";

pub async fn state<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    rule: &str,
) -> Result<Option<StateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM alert_states WHERE rule = $1"
    ))
    .bind(rule)
    .fetch_optional(executor)
    .await
}

/// Rules pending or firing, most urgent first.
pub async fn active(db: &Db) -> Result<Vec<StateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {STATE_COLUMNS} FROM alert_states WHERE status <> 'inactive' \
         ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, rule"
    ))
    .fetch_all(db.pool())
    .await
}

/// Moves `rule` from the state read at `version` to `next`; `false` when
/// another instance moved it first (nothing written).
pub async fn transition(
    conn: &mut AnyConnection,
    rule: &str,
    version: i64,
    severity: Severity,
    next: &Transition,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE alert_states SET status = $1, value = $2, since = $3, notified = $4, \
         last_notified_at = $5, severity = $6, version = version + 1, updated_at = $7 \
         WHERE rule = $8 AND version = $9",
    )
    .bind(next.status)
    .bind(next.value)
    .bind(next.since)
    .bind(i64::from(next.notified))
    .bind(next.last_notified_at)
    .bind(severity)
    .bind(now)
    .bind(rule)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// One entry of the history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub id: AlertEventId,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertHistoryStatus,
    pub value: f64,
    pub notified: i64,
    pub at: Timestamp,
}

pub async fn record(conn: &mut AnyConnection, row: &HistoryRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO alert_history (id, rule, severity, status, value, notified, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.rule)
    .bind(row.severity)
    .bind(row.status)
    .bind(row.value)
    .bind(row.notified)
    .bind(row.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// History entries older than `before` (an entry id: ids are time-ordered),
/// newest first, at most `limit`.
pub async fn history(
    db: &Db,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, rule, severity, status, value, notified, at FROM alert_history \
         WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

pub use crate::integrations::{IntegrationKind, IntegrationStatus};

/// An integration's latest status (`integration_health`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HealthRow {
    pub integration: String,
    pub kind: IntegrationKind,
    pub status: IntegrationStatus,
    pub latency_ms: Option<i64>,
    pub calls: i64,
    pub failed_calls: i64,
    pub consecutive_failures: i64,
    pub reason: Option<String>,
    pub checked_at: Timestamp,
    pub since: Timestamp,
}

const HEALTH_COLUMNS: &str = "integration, kind, status, latency_ms, calls, failed_calls, \
     consecutive_failures, reason, checked_at, since";

/// Every integration's latest status, by name.
pub async fn health(db: &Db) -> Result<Vec<HealthRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {HEALTH_COLUMNS} FROM integration_health ORDER BY integration"
    ))
    .fetch_all(db.pool())
    .await
}

/// Stores `row` as its integration's latest status; `since` stays the
/// stored one while the status does not change.
pub async fn save_health(db: &Db, row: &HealthRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO integration_health ({HEALTH_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (integration) DO UPDATE SET kind = excluded.kind, \
         since = CASE WHEN integration_health.status = excluded.status \
                 THEN integration_health.since ELSE excluded.since END, \
         status = excluded.status, latency_ms = excluded.latency_ms, \
         calls = excluded.calls, failed_calls = excluded.failed_calls, \
         consecutive_failures = excluded.consecutive_failures, \
         reason = excluded.reason, checked_at = excluded.checked_at"
    ))
    .bind(&row.integration)
    .bind(row.kind)
    .bind(row.status)
    .bind(row.latency_ms)
    .bind(row.calls)
    .bind(row.failed_calls)
    .bind(row.consecutive_failures)
    .bind(&row.reason)
    .bind(row.checked_at)
    .bind(row.since)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets an integration no longer configured.
pub async fn forget_health(db: &Db, integration: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM integration_health WHERE integration = $1")
        .bind(integration)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// How many integrations are at `status` or worse (degraded counts down
/// ones too).
pub async fn count_health_at_least(db: &Db, status: IntegrationStatus) -> Result<i64, sqlx::Error> {
    let sql = match status {
        IntegrationStatus::Healthy => "SELECT COUNT(*) FROM integration_health",
        IntegrationStatus::Degraded => {
            "SELECT COUNT(*) FROM integration_health WHERE status IN ('degraded', 'down')"
        }
        IntegrationStatus::Down => "SELECT COUNT(*) FROM integration_health WHERE status = 'down'",
    };
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await?;
    Ok(n)
}

/// Adds counted real calls to `integration`'s bucket of `minute`.
pub async fn add_calls(
    db: &Db,
    integration: &str,
    minute: Timestamp,
    calls: i64,
    failed_calls: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO integration_calls (integration, minute, calls, failed_calls) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (integration, minute) DO UPDATE SET \
         calls = integration_calls.calls + excluded.calls, \
         failed_calls = integration_calls.failed_calls + excluded.failed_calls",
    )
    .bind(integration)
    .bind(minute)
    .bind(calls)
    .bind(failed_calls)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Real calls per integration (calls, failed calls) in the buckets from
/// `since` on.
pub async fn calls_since(
    db: &Db,
    since: Timestamp,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT integration, CAST(SUM(calls) AS BIGINT), CAST(SUM(failed_calls) AS BIGINT) \
         FROM integration_calls WHERE minute >= $1 GROUP BY integration ORDER BY integration",
    )
    .bind(since)
    .fetch_all(db.pool())
    .await
}

/// Forgets the buckets before `before`.
pub async fn forget_calls_before(db: &Db, before: Timestamp) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM integration_calls WHERE minute < $1")
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Writes `instance`'s pool use (connections in use, the most it may
/// open) as of `now`, and forgets instances silent for a day.
pub async fn report_pool_use(
    db: &Db,
    instance: &str,
    in_use: f64,
    max_connections: u32,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO db_pool_use (instance, in_use, max_connections, updated_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (instance) DO UPDATE SET in_use = excluded.in_use, \
         max_connections = excluded.max_connections, updated_at = excluded.updated_at",
    )
    .bind(instance)
    .bind(in_use)
    .bind(i64::from(max_connections))
    .bind(now)
    .execute(db.pool())
    .await?;
    sqlx::query("DELETE FROM db_pool_use WHERE updated_at < $1")
        .bind(now.minus(std::time::Duration::from_secs(24 * 3600)))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The highest pool use, in % of its pool, among the instances that
/// reported since `since` (0 when none did).
pub async fn highest_pool_use_since(db: &Db, since: Timestamp) -> Result<f64, sqlx::Error> {
    let rows: Vec<(f64, i64)> =
        sqlx::query_as("SELECT in_use, max_connections FROM db_pool_use WHERE updated_at >= $1")
            .bind(since)
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, max)| *max > 0)
        .map(|(in_use, max)| in_use * 100.0 / max as f64)
        .fold(0.0, f64::max))
}
