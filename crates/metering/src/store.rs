//! Metering's storage: the feature owns `usage_hourly` (the counters every
//! count reads), `usage_cuts` (where counters are cut inside an hour),
//! `usage_records` (the optional raw log) and `usage_minutely` (the raw
//! log's answers per minute and status class), and every query of them is
//! here.
//! Other features count usage through these functions.
//!
//! Counts read the counters, so their cost follows organizations and hours,
//! not requests. A count between two instants is exact when each is an
//! hour boundary or one of the organization's cuts (see [`record_cut`]):
//! months, days and plan stretches all are.

use landlord_core::db::values_placeholders;
use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use crate::{Counter, UsageRecord};

/// Columns per inserted record.
const COLUMNS: usize = 6;

/// Columns per upserted counter.
const COUNTER_COLUMNS: usize = 7;

/// Columns per upserted minute count.
const MINUTE_COLUMNS: usize = 3;

/// One hour, in ms: the counters' bucket.
pub const HOUR_MS: i64 = 3_600_000;

/// One minute, in ms: the bucket of the answers counted per minute.
pub const MINUTE_MS: i64 = 60_000;

/// Answers of one status class in one minute (across organizations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    /// The minute's start.
    pub minute: Timestamp,
    /// 2 for 2xx, 5 for 5xx …
    pub status_class: i64,
    pub requests: i64,
}

/// Adds `counts` to the stored ones in one multi-row additive upsert
/// (several instances add to the same minutes).
pub async fn add_to_minutes(
    conn: &mut AnyConnection,
    counts: &[MinuteCount],
) -> Result<(), sqlx::Error> {
    if counts.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO usage_minutely (minute, status_class, requests) VALUES {} \
         ON CONFLICT (minute, status_class) \
         DO UPDATE SET requests = usage_minutely.requests + excluded.requests",
        values_placeholders(conn, counts.len(), MINUTE_COLUMNS)
    );
    let mut query = sqlx::query(&sql);
    for count in counts {
        query = query
            .bind(count.minute)
            .bind(count.status_class)
            .bind(count.requests);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Answers counted per minute from the minute holding `since` on: how
/// many were 5xx and how many in all (the 5xx rate alert's reading while
/// the raw log is kept: one row a minute of its window, whatever the
/// traffic).
pub async fn server_errors_in_minutes_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    since: Timestamp,
) -> Result<(i64, i64), sqlx::Error> {
    let from = since.millis() - since.millis().rem_euclid(MINUTE_MS);
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status_class = 5 THEN requests ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_minutely WHERE minute >= $1",
    )
    .bind(Timestamp::from_millis(from))
    .fetch_one(executor)
    .await
}

/// Adds `counters` to the stored ones in one multi-row additive upsert, so
/// several instances (and several flushes) may add to the same hour.
pub async fn add_to_counters(
    conn: &mut AnyConnection,
    counters: &[Counter],
) -> Result<(), sqlx::Error> {
    if counters.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO usage_hourly (organization_id, api_key_id, route, status_class, hour, requests, app_id) \
         VALUES {} ON CONFLICT (organization_id, api_key_id, route, status_class, hour, app_id) \
         DO UPDATE SET requests = usage_hourly.requests + excluded.requests",
        values_placeholders(conn, counters.len(), COUNTER_COLUMNS)
    );
    let mut query = sqlx::query(&sql);
    for counter in counters {
        query = query
            .bind(counter.organization_id.as_str())
            .bind(counter.api_key_id.as_str())
            .bind(counter.route.as_str())
            .bind(counter.status_class)
            .bind(counter.bucket)
            .bind(counter.requests)
            .bind(counter.app_id.as_deref().unwrap_or(""));
    }
    query.execute(conn).await?;
    Ok(())
}

/// Cuts the organization's counters at `at`: from then on, records of that
/// hour from `at` on are counted apart from those before it. A no-op on an
/// hour boundary (counters are cut there anyway). Called in the transaction
/// of a plan change, so that its two stretches count exactly.
pub async fn record_cut(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    if at.millis().rem_euclid(HOUR_MS) == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO usage_cuts (organization_id, at) VALUES ($1, $2) \
         ON CONFLICT (organization_id, at) DO NOTHING",
    )
    .bind(organization_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every organization's cuts from `from` to `to` (both included). Cuts are
/// rare (one per mid-hour plan change), so a batch's span holds few.
pub async fn cuts_between(
    conn: &mut AnyConnection,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(OrganizationId, Timestamp)>, sqlx::Error> {
    sqlx::query_as("SELECT organization_id, at FROM usage_cuts WHERE at >= $1 AND at <= $2")
        .bind(from)
        .bind(to)
        .fetch_all(conn)
        .await
}

/// Deletes raw request rows, and the per-minute counts kept beside them,
/// older than `before` (the raw log's retention); the hourly counters
/// stay. Returns how many went.
pub async fn purge_raw_before(
    conn: &mut AnyConnection,
    before: Timestamp,
) -> Result<u64, sqlx::Error> {
    let raw = sqlx::query("DELETE FROM usage_records WHERE created_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    let minutes = sqlx::query("DELETE FROM usage_minutely WHERE minute < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(raw.rows_affected() + minutes.rows_affected())
}

/// Inserts `records` in one multi-row statement.
pub async fn insert_batch(
    conn: &mut AnyConnection,
    records: &[UsageRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO usage_records (organization_id, api_key_id, endpoint, method, status, created_at) VALUES {}",
        values_placeholders(conn, records.len(), COLUMNS)
    );
    let mut query = sqlx::query(&sql);
    for record in records {
        // Text bound as `&str` is borrowed until the statement runs (an
        // id bound as itself is copied first).
        query = query
            .bind(record.caller.organization_id.as_str())
            .bind(record.caller.api_key_id.as_str())
            .bind(&*record.endpoint)
            .bind(record.method.as_ref())
            .bind(i64::from(record.status))
            .bind(record.at);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Metered requests of an organization since `since` (an hour boundary or
/// a cut).
pub async fn count_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    since: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly \
         WHERE organization_id = $1 AND hour >= $2",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

/// Metered requests of an organization from `from` (included) to `to`
/// (excluded): a billing period or one plan's stretch of it.
pub async fn count_between<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_hourly \
         WHERE organization_id = $1 AND hour >= $2 AND hour < $3",
    )
    .bind(organization_id)
    .bind(from)
    .bind(to)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

/// Metered requests from `from` (included) to `to` (excluded) of every
/// organization whose id lies between `first` and `last` (both included),
/// one row per organization that made any: a billing period for a whole
/// chunk of organizations in one query (the month close).
pub async fn counts_between_per_organization(
    conn: &mut AnyConnection,
    first: &OrganizationId,
    last: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(OrganizationId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT organization_id, CAST(SUM(requests) AS BIGINT) FROM usage_hourly \
         WHERE organization_id >= $1 AND organization_id <= $2 AND hour >= $3 AND hour < $4 \
         GROUP BY organization_id",
    )
    .bind(first)
    .bind(last)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// Requests per bucket of `bucket_ms` (whole hours) from `from` to `to`
/// (excluded), of one key or all: (bucket index from 0, count), empty
/// buckets left out.
pub async fn counts_per_bucket<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
    bucket_ms: i64,
    key: Option<&ApiKeyId>,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (hour - $2) / $4 AS day, CAST(SUM(requests) AS BIGINT) FROM usage_hourly \
         WHERE organization_id = $1 AND hour >= $2 AND hour < $3 \
           AND ($5 = '' OR api_key_id = $5) \
         GROUP BY (hour - $2) / $4",
    )
    .bind(organization_id)
    .bind(from)
    .bind(to)
    .bind(bucket_ms)
    .bind(key.map(ApiKeyId::as_str).unwrap_or(""))
    .fetch_all(executor)
    .await
}

/// Requests since `since` per API key of the organization (keys without
/// requests left out).
pub async fn counts_per_key_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    since: Timestamp,
) -> Result<Vec<(ApiKeyId, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT api_key_id, CAST(SUM(requests) AS BIGINT) FROM usage_hourly \
         WHERE organization_id = $1 AND hour >= $2 AND api_key_id <> '' \
         GROUP BY api_key_id",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_all(executor)
    .await
}

/// Metered requests in the hourly counters whose hour (or cut within it)
/// starts at or after the hour holding `since`: how many were answered
/// 5xx and how many in all. What the 5xx rate reads when the raw request
/// log is off: the same across instances, but over whole hours, so a short
/// window sees the rest of its hour too.
pub async fn server_errors_in_hours_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    since: Timestamp,
) -> Result<(i64, i64), sqlx::Error> {
    const HOUR_MS: i64 = 3_600_000;
    let hour = since.millis() - since.millis().rem_euclid(HOUR_MS);
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status_class >= 5 THEN requests ELSE 0 END), 0) \
         AS BIGINT), CAST(COALESCE(SUM(requests), 0) AS BIGINT) \
         FROM usage_hourly WHERE hour >= $1",
    )
    .bind(hour)
    .fetch_one(executor)
    .await
}
