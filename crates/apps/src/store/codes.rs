use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use crate::ids::{AppId, ConsentId};

/// An authorization code as stored (the code itself only hashed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub app_id: AppId,
    pub user_id: UserId,
    pub organization_id: Option<OrganizationId>,
    pub consent_id: Option<ConsentId>,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scopes: String,
    pub nonce: Option<String>,
    pub auth_time: Timestamp,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

const CODE_COLUMNS: &str = "code_hash, app_id, user_id, organization_id, consent_id, \
     redirect_uri, code_challenge, scopes, nonce, auth_time, created_at, expires_at, used_at";

pub async fn insert_code<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &CodeRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO oauth_codes ({CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13)"
    ))
    .bind(&row.code_hash)
    .bind(&row.app_id)
    .bind(&row.user_id)
    .bind(&row.organization_id)
    .bind(&row.consent_id)
    .bind(&row.redirect_uri)
    .bind(&row.code_challenge)
    .bind(&row.scopes)
    .bind(&row.nonce)
    .bind(row.auth_time)
    .bind(row.created_at)
    .bind(row.expires_at)
    .bind(row.used_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The code whose hash is `code_hash`, used or expired included.
pub async fn code_by_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    code_hash: &str,
) -> Result<Option<CodeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CODE_COLUMNS} FROM oauth_codes WHERE code_hash = $1"
    ))
    .bind(code_hash)
    .fetch_optional(executor)
    .await
}

/// Marks the code used, once: `false` when it was used already (by a
/// request racing this one), which makes this use a replay.
pub async fn use_code<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    code_hash: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL")
            .bind(now)
            .bind(code_hash)
            .execute(executor)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets codes that expired before `before` (used or not): a replay of
/// one that old finds nothing and is refused anyway.
pub async fn delete_expired_codes<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    before: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
        .bind(before)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}
