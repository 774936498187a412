use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use super::TokenKind;
use crate::ids::{AppId, ConsentId, InstallationId, TokenFamilyId, TokenId};

/// An access or refresh token as stored (the token itself only hashed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: TokenId,
    pub token_hash: String,
    pub kind: TokenKind,
    pub app_id: AppId,
    pub user_id: Option<UserId>,
    pub organization_id: Option<OrganizationId>,
    pub installation_id: Option<InstallationId>,
    pub consent_id: Option<ConsentId>,
    pub family_id: Option<TokenFamilyId>,
    pub code_hash: Option<String>,
    pub scopes: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

const TOKEN_COLUMNS: &str = "id, token_hash, kind, app_id, user_id, organization_id, \
     installation_id, consent_id, family_id, code_hash, scopes, created_at, expires_at, \
     rotated_at, revoked_at";

pub async fn insert_token<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &TokenRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO oauth_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
         $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&row.id)
    .bind(&row.token_hash)
    .bind(row.kind)
    .bind(&row.app_id)
    .bind(&row.user_id)
    .bind(&row.organization_id)
    .bind(&row.installation_id)
    .bind(&row.consent_id)
    .bind(&row.family_id)
    .bind(&row.code_hash)
    .bind(&row.scopes)
    .bind(row.created_at)
    .bind(row.expires_at)
    .bind(row.rotated_at)
    .bind(row.revoked_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The token whose hash is `token_hash`, revoked or expired included.
pub async fn token_by_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    token_hash: &str,
) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(executor)
    .await
}

/// Revokes one token (no-op when revoked already).
pub async fn revoke_token<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &TokenId,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(executor)
            .await?;
    Ok(done.rows_affected())
}

/// Revokes every token of a family (a refresh token reused too late, or
/// revoked by the app).
pub async fn revoke_family<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &TokenFamilyId,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every token an authorization code issued (the code was replayed).
pub async fn revoke_issued_by_code<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    code_hash: &str,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE code_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(code_hash)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every token of an installation (it is being uninstalled).
pub async fn revoke_installation_tokens<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    installation_id: &InstallationId,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE installation_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(installation_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// Revokes every token a person's consent to an app produced (they revoked
/// the app on their account page).
pub async fn revoke_consent_tokens<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    consent_id: &ConsentId,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE consent_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(consent_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}

/// Marks a refresh token exchanged (the first time only: `false` when it
/// was exchanged already, so the caller applies the grace rule).
pub async fn mark_rotated<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &TokenId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE oauth_tokens SET rotated_at = $1 WHERE id = $2 AND rotated_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(executor)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// A token with what decides whether it still works: its app's status,
/// whether its installation was uninstalled, whether its consent was
/// revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenStanding {
    #[sqlx(flatten)]
    pub token: TokenRow,
    pub app_status: super::AppStatus,
    pub installation_ended_at: Option<Timestamp>,
    pub consent_revoked_at: Option<Timestamp>,
}

/// The token whose hash is `token_hash`, with its standing.
pub async fn token_standing<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    token_hash: &str,
) -> Result<Option<TokenStanding>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.token_hash, t.kind, t.app_id, t.user_id, t.organization_id, \
         t.installation_id, t.consent_id, t.family_id, t.code_hash, t.scopes, t.created_at, \
         t.expires_at, t.rotated_at, t.revoked_at, a.status AS app_status, \
         i.uninstalled_at AS installation_ended_at, c.revoked_at AS consent_revoked_at \
         FROM oauth_tokens t JOIN apps a ON a.id = t.app_id \
         LEFT JOIN app_installations i ON i.id = t.installation_id \
         LEFT JOIN oauth_consents c ON c.id = t.consent_id \
         WHERE t.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(executor)
    .await
}

/// Spends a rotated refresh token's one use within the grace window (a
/// refresh racing the one that rotated it): marks it revoked, once.
/// `false` when it was spent or revoked already — a reuse.
pub async fn spend_rotated<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &TokenId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 WHERE id = $2 AND rotated_at IS NOT NULL \
         AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
