use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use crate::ids::{AppId, ConsentId};

/// A person's consent to an app's scopes, in an organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: ConsentId,
    pub user_id: UserId,
    pub app_id: AppId,
    pub organization_id: Option<OrganizationId>,
    pub scopes: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

const CONSENT_COLUMNS: &str =
    "id, user_id, app_id, organization_id, scopes, created_at, updated_at, revoked_at";

pub async fn insert_consent<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &ConsentRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO oauth_consents ({CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.app_id)
    .bind(&row.organization_id)
    .bind(&row.scopes)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.revoked_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The person's live (not revoked) consent to `app_id` in `organization_id`.
pub async fn live_consent<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    app_id: &AppId,
    organization_id: &OrganizationId,
) -> Result<Option<ConsentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONSENT_COLUMNS} FROM oauth_consents WHERE user_id = $1 AND app_id = $2 \
         AND organization_id = $3 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .bind(app_id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// Widens a live consent to `scopes` (the person allowed more).
pub async fn update_consent_scopes<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &ConsentId,
    scopes: &str,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_consents SET scopes = $1, updated_at = $2 WHERE id = $3 \
         AND revoked_at IS NULL",
    )
    .bind(scopes)
    .bind(now)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}
