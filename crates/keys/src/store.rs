//! API key storage.

use landlord_core::db::now_millis;
use sqlx::{Any, Executor};

/// What authenticating a key needs, cached by key hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: String,
    pub organization_id: String,
    pub plan: String,
    pub scopes: Option<String>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
}

pub async fn by_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    key_hash: &str,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT k.id, k.organization_id, o.plan, k.scopes, k.expires_at, k.revoked_at, \
                k.rate_limit_per_minute \
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id \
         WHERE k.key_hash = $1",
    )
    .bind(key_hash)
    .fetch_optional(executor)
    .await
}

/// A key as people see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: String,
    pub organization_id: String,
    pub created_by: Option<String>,
    pub created_by_email: Option<String>,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: Option<String>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub rate_limit_per_minute: Option<i64>,
    pub created_at: i64,
}

impl KeyRow {
    pub fn status(&self) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|t| t <= now_millis()) {
            "expired"
        } else {
            "active"
        }
    }
}

const KEY_COLUMNS: &str = "k.id, k.organization_id, k.created_by, u.email AS created_by_email, \
     k.name, k.prefix, k.key_hash, k.scopes, k.expires_at, k.revoked_at, k.last_used_at, \
     k.rate_limit_per_minute, k.created_at";

pub async fn list<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k LEFT JOIN users u ON u.id = k.created_by \
         WHERE k.organization_id = $1 AND ($2 = '' OR k.id < $2) ORDER BY k.id DESC LIMIT $3"
    ))
    .bind(organization_id)
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    id: &str,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k LEFT JOIN users u ON u.id = k.created_by \
         WHERE k.organization_id = $1 AND k.id = $2"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// The keys `user_id` created in the organization that still work or
/// could (not revoked), for revoking them when the person leaves.
pub async fn unrevoked_created_by(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    user_id: &str,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k LEFT JOIN users u ON u.id = k.created_by \
         WHERE k.organization_id = $1 AND k.created_by = $2 AND k.revoked_at IS NULL \
         ORDER BY k.id"
    ))
    .bind(organization_id)
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Revokes one key of the organization at `at`, unless already revoked.
/// Returns whether this call revoked it.
pub async fn revoke<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 \
         WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(organization_id)
    .bind(id)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Makes `user_id` the creator of an unrevoked key of the organization.
/// Returns whether a key changed.
pub async fn set_creator<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    id: &str,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE api_keys SET created_by = $3 \
         WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(organization_id)
    .bind(id)
    .bind(user_id)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}
