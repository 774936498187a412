//! API key storage: the keys feature owns `api_keys`, and every query of it
//! is here. The creators' emails and the organizations' plans are identity's,
//! read through identity's functions.

use landlord_core::ids::{ApiKeyId, OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

landlord_core::text_enum!(
    /// A key as people see it: derived from `revoked_at` and `expires_at`.
    pub enum KeyStatus {
        Active = "active",
        Expired = "expired",
        Revoked = "revoked",
    }
);

impl KeyStatus {
    pub fn of(revoked_at: Option<Timestamp>, expires_at: Option<Timestamp>) -> Self {
        if revoked_at.is_some() {
            KeyStatus::Revoked
        } else if expires_at.is_some_and(|t| t <= Timestamp::now()) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

/// Scopes are stored as a JSON array of strings; `None`: every route.
pub fn decode_scopes(stored: Option<&str>) -> Option<Vec<String>> {
    stored.and_then(|s| serde_json::from_str(s).ok())
}

fn encode_scopes(scopes: Option<&[String]>) -> Option<String> {
    scopes.map(|s| serde_json::json!(s).to_string())
}

/// What authenticating a key reads, by key hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyAuthRow {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    pub scopes: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub rate_limit_per_minute: Option<i64>,
}

pub async fn by_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    key_hash: &str,
) -> Result<Option<KeyAuthRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, scopes, expires_at, revoked_at, rate_limit_per_minute \
         FROM api_keys WHERE key_hash = $1",
    )
    .bind(key_hash)
    .fetch_optional(executor)
    .await
}

/// A key as people see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub id: ApiKeyId,
    pub organization_id: OrganizationId,
    pub created_by: Option<UserId>,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rate_limit_per_minute: Option<i64>,
    pub created_at: Timestamp,
}

impl KeyRow {
    pub fn status(&self) -> KeyStatus {
        KeyStatus::of(self.revoked_at, self.expires_at)
    }
}

const KEY_COLUMNS: &str = "id, organization_id, created_by, name, prefix, key_hash, scopes, \
     expires_at, revoked_at, last_used_at, rate_limit_per_minute, created_at";

/// A key to store: only the secret's hash is kept.
pub struct NewKey<'a> {
    pub id: &'a ApiKeyId,
    pub organization_id: &'a OrganizationId,
    pub created_by: &'a UserId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub scopes: Option<&'a [String]>,
    pub expires_at: Option<Timestamp>,
    pub rate_limit_per_minute: Option<i64>,
    pub created_at: Timestamp,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    key: NewKey<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, organization_id, created_by, name, prefix, key_hash, scopes, \
         expires_at, rate_limit_per_minute, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(key.id)
    .bind(key.organization_id)
    .bind(key.created_by)
    .bind(key.name)
    .bind(key.prefix)
    .bind(key.key_hash)
    .bind(encode_scopes(key.scopes))
    .bind(key.expires_at)
    .bind(key.rate_limit_per_minute)
    .bind(key.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// A page of the organization's keys, newest first, after the cursor
/// `before` (a key id); only those `created_by` made when given.
pub async fn list<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    created_by: Option<&UserId>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys \
         WHERE organization_id = $1 AND ($2 = '' OR id < $2) \
         AND ($4 = '' OR created_by = $4) ORDER BY id DESC LIMIT $3"
    ))
    .bind(organization_id)
    .bind(before.unwrap_or(""))
    .bind(limit)
    .bind(created_by.map(|id| id.to_string()).unwrap_or_default())
    .fetch_all(executor)
    .await
}

/// Every key of the organization (the dashboard's per-key figures).
pub async fn all<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY id"
    ))
    .bind(organization_id)
    .fetch_all(executor)
    .await
}

/// Keys of the organization that work at `at`: not revoked, not expired.
pub async fn active_count<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    at: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(organization_id)
    .bind(at)
    .fetch_one(executor)
    .await?;
    Ok(count)
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &ApiKeyId,
) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE organization_id = $1 AND id = $2"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// The keys `user_id` created in the organization that still work or
/// could (not revoked), for revoking them when the person leaves.
pub async fn unrevoked_created_by(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    user_id: &UserId,
) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys \
         WHERE organization_id = $1 AND created_by = $2 AND revoked_at IS NULL ORDER BY id"
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
    organization_id: &OrganizationId,
    id: &ApiKeyId,
    at: Timestamp,
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
    organization_id: &OrganizationId,
    id: &ApiKeyId,
    user_id: &UserId,
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

/// Moves each key's `last_used_at` forward to when it was last used (never
/// back): the usage writer calls it with every batch it writes.
pub async fn touch_last_used(
    conn: &mut AnyConnection,
    used: &[(ApiKeyId, Timestamp)],
) -> Result<(), sqlx::Error> {
    for (id, at) in used {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
