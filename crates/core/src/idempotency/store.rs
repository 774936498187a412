//! The `idempotency_keys` table: one row per (organization, route, key),
//! holding the request's hash and, once answered, the first answer.

use sqlx::{Any, AnyConnection, Executor};

use crate::ids::OrganizationId;
use crate::Timestamp;

/// What was stored for a key.
#[derive(sqlx::FromRow)]
pub struct StoredKey {
    pub request_hash: String,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
}

/// Forgets `key` when it expired before `now`, so that it may be used again.
pub async fn forget_expired_key(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    route: &str,
    key: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE organization_id = $1 AND route = $2 \
         AND idempotency_key = $3 AND expires_at <= $4",
    )
    .bind(organization_id)
    .bind(route)
    .bind(key)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_key(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    route: &str,
    key: &str,
) -> Result<Option<StoredKey>, sqlx::Error> {
    sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
         WHERE organization_id = $1 AND route = $2 AND idempotency_key = $3",
    )
    .bind(organization_id)
    .bind(route)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// A key claimed by a request that has not answered yet.
pub struct NewKey<'a> {
    pub id: &'a str,
    pub organization_id: &'a OrganizationId,
    pub route: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Inserts a claim; a unique violation means another request holds the key.
pub async fn insert_key(conn: &mut AnyConnection, new: NewKey<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (id, organization_id, idempotency_key, route, request_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(new.organization_id)
    .bind(new.key)
    .bind(new.route)
    .bind(new.request_hash)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the first answer of a claim.
pub async fn store_answer<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
    status: u16,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET response_status = $2, response_body = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(i64::from(status))
    .bind(body)
    .execute(executor)
    .await?;
    Ok(())
}

/// Deletes a claim (its request failed).
pub async fn delete_key<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE id = $1")
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Deletes the keys expired before `now`; returns how many went.
pub async fn purge_expired<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query("DELETE FROM idempotency_keys WHERE expires_at < $1")
        .bind(now)
        .execute(executor)
        .await?;
    Ok(result.rows_affected())
}
