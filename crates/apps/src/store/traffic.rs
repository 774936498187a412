//! The gateway's traffic figures per app and hour (`app_traffic_hourly`):
//! requests, errors (5xx, the gateway's own 502 and 504 included) and
//! latency, added by every instance with an additive upsert.

use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use crate::ids::AppId;

/// One hour of one app's traffic, to add to the stored figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficRow {
    pub app_id: AppId,
    /// The hour's start.
    pub hour: Timestamp,
    pub requests: i64,
    pub errors: i64,
    pub latency_ms_total: i64,
    pub latency_ms_max: i64,
}

/// Adds `rows` to the stored figures (the maximum latency is kept). An app
/// deleted meanwhile is skipped.
pub async fn add_traffic(conn: &mut AnyConnection, rows: &[TrafficRow]) -> Result<(), sqlx::Error> {
    for row in rows {
        sqlx::query(
            "INSERT INTO app_traffic_hourly \
             (app_id, hour, requests, errors, latency_ms_total, latency_ms_max) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM apps WHERE id = $1) \
             ON CONFLICT (app_id, hour) DO UPDATE SET \
             requests = app_traffic_hourly.requests + excluded.requests, \
             errors = app_traffic_hourly.errors + excluded.errors, \
             latency_ms_total = app_traffic_hourly.latency_ms_total + excluded.latency_ms_total, \
             latency_ms_max = CASE WHEN excluded.latency_ms_max > app_traffic_hourly.latency_ms_max \
               THEN excluded.latency_ms_max ELSE app_traffic_hourly.latency_ms_max END",
        )
        .bind(&row.app_id)
        .bind(row.hour)
        .bind(row.requests)
        .bind(row.errors)
        .bind(row.latency_ms_total)
        .bind(row.latency_ms_max)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// One day of an app's traffic.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TrafficDay {
    /// Days since `from`.
    pub day: i64,
    pub requests: i64,
    pub errors: i64,
    pub latency_ms_total: i64,
    pub latency_ms_max: i64,
}

/// An app's traffic per day from `from` (a day's start) to `to`
/// (excluded); days without requests left out.
pub async fn traffic_per_day<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<TrafficDay>, sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST((hour - $2) / 86400000 AS BIGINT) AS day, \
         CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
         CAST(SUM(latency_ms_total) AS BIGINT) AS latency_ms_total, \
         CAST(MAX(latency_ms_max) AS BIGINT) AS latency_ms_max \
         FROM app_traffic_hourly WHERE app_id = $1 AND hour >= $2 AND hour < $3 \
         GROUP BY (hour - $2) / 86400000 ORDER BY 1",
    )
    .bind(app_id)
    .bind(from)
    .bind(to)
    .fetch_all(executor)
    .await
}
