//! Metering's storage: the feature owns `usage_records`, and every query of
//! it is here. Other features count usage through these functions.

use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use crate::UsageRecord;

/// Columns per inserted record.
const COLUMNS: usize = 7;

/// Inserts `records` in one multi-row statement.
pub async fn insert_batch(
    conn: &mut AnyConnection,
    records: &[UsageRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..records.len())
        .map(|i| {
            let placeholders: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("${}", i * COLUMNS + c))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO usage_records (id, organization_id, api_key_id, endpoint, method, status, created_at) VALUES {}",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for record in records {
        query = query
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&record.organization_id)
            .bind(&record.api_key_id)
            .bind(&record.endpoint)
            .bind(&record.method)
            .bind(i64::from(record.status))
            .bind(record.at);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Metered requests of an organization since `since`.
pub async fn count_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    since: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND created_at >= $2",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

/// Metered requests of an organization from `from` (included) to `to`
/// (excluded): a billing period.
pub async fn count_between<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM usage_records WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(organization_id)
    .bind(from)
    .bind(to)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

/// Requests per bucket of `bucket_ms` from `from` to `to` (excluded), of
/// one key or all: (bucket index from 0, count), empty buckets left out.
pub async fn counts_per_bucket<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
    bucket_ms: i64,
    key: Option<&ApiKeyId>,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT (created_at - $2) / $4 AS day, COUNT(*) FROM usage_records \
         WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 \
           AND ($5 = '' OR api_key_id = $5) \
         GROUP BY (created_at - $2) / $4",
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
        "SELECT api_key_id, CAST(COUNT(*) AS BIGINT) FROM usage_records \
         WHERE organization_id = $1 AND created_at >= $2 AND api_key_id IS NOT NULL \
         GROUP BY api_key_id",
    )
    .bind(organization_id)
    .bind(since)
    .fetch_all(executor)
    .await
}
