//! The `idempotency_keys` table: one row per (organization, route, key),
//! holding the request's hash and, once answered, the first answer.

use sqlx::{Any, AnyConnection, Executor};

use crate::ids::OrganizationId;
use crate::Timestamp;

/// What was stored for a key.
#[derive(sqlx::FromRow)]
pub struct StoredKey {
    pub id: String,
    pub request_hash: String,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
    pub created_at: Timestamp,
    /// Until when a claim still being processed holds the key (`None`:
    /// a claim made before leases).
    pub locked_until: Option<Timestamp>,
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
        "SELECT id, request_hash, response_status, response_body, created_at, locked_until \
         FROM idempotency_keys \
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
    pub locked_until: Timestamp,
}

/// Inserts a claim; a unique violation means another request holds the key.
pub async fn insert_key(conn: &mut AnyConnection, new: NewKey<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (id, organization_id, idempotency_key, route, request_hash, created_at, expires_at, locked_until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new.id)
    .bind(new.organization_id)
    .bind(new.key)
    .bind(new.route)
    .bind(new.request_hash)
    .bind(new.created_at)
    .bind(new.expires_at)
    .bind(new.locked_until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes over the unanswered claim `old_id` whose lease lapsed before
/// `now`, under `new_id` and a fresh lease. False when another retry took
/// it first, or it was answered or renewed meanwhile.
pub async fn take_over<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    old_id: &str,
    new_id: &str,
    now: Timestamp,
    locked_until: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE idempotency_keys SET id = $2, locked_until = $4 \
         WHERE id = $1 AND response_status IS NULL \
           AND (locked_until IS NULL OR locked_until <= $3)",
    )
    .bind(old_id)
    .bind(new_id)
    .bind(now)
    .bind(locked_until)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Extends the lease of the unanswered claim `id`; false when no such claim
/// exists any more (taken over, answered or released).
pub async fn renew<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
    locked_until: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE idempotency_keys SET locked_until = $2 WHERE id = $1 AND response_status IS NULL",
    )
    .bind(id)
    .bind(locked_until)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Stores the first answer of the claim `id`; false when the claim is no
/// longer there under that id (taken over).
pub async fn store_answer<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
    status: u16,
    body: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE idempotency_keys SET response_status = $2, response_body = $3, locked_until = NULL \
         WHERE id = $1 AND response_status IS NULL",
    )
    .bind(id)
    .bind(i64::from(status))
    .bind(body)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
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

/// Tests: the claim `id`'s lease ends at `until` (its instance died).
#[cfg(test)]
pub async fn lapse_for_tests(
    pool: &sqlx::AnyPool,
    id: &str,
    until: crate::Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idempotency_keys SET locked_until = $2 WHERE id = $1")
        .bind(id)
        .bind(until)
        .execute(pool)
        .await
        .map(|_| ())
}

/// Tests: the organization a key belongs to (the table is identity's,
/// which core's own tests cannot call).
#[cfg(test)]
pub async fn insert_organization_for_tests(
    pool: &sqlx::AnyPool,
    organization: &crate::ids::OrganizationId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, 'O', 1, 1)",
    )
    .bind(organization)
    .execute(pool)
    .await
    .map(|_| ())
}
