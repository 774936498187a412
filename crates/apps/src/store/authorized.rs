use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use crate::ids::{AppId, ConsentId};

/// A person's live consent to an app, with the app (what the account's
/// "authorized apps" lists; the publisher's name comes from identity).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthorizedAppRow {
    pub consent_id: ConsentId,
    pub app_id: AppId,
    pub app_name: String,
    pub app_slug: String,
    pub icon_url: Option<String>,
    pub homepage_url: Option<String>,
    pub publisher_id: OrganizationId,
    /// The organization that was active when the person allowed it.
    pub organization_id: Option<OrganizationId>,
    /// A JSON array (see [`crate::scopes::ScopeSet`]).
    pub scopes: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `user_id`'s consents not revoked, the most recently granted first.
pub async fn authorized_apps<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<Vec<AuthorizedAppRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id AS consent_id, a.id AS app_id, a.name AS app_name, a.slug AS app_slug, \
         a.icon_url, a.homepage_url, a.organization_id AS publisher_id, \
         c.organization_id, c.scopes, c.created_at, c.updated_at \
         FROM oauth_consents c JOIN apps a ON a.id = c.app_id \
         WHERE c.user_id = $1 AND c.revoked_at IS NULL \
         ORDER BY c.updated_at DESC, c.id DESC",
    )
    .bind(user_id)
    .fetch_all(executor)
    .await
}

/// Revokes `user_id`'s live consents to `app_id`; returns their ids (none:
/// the person had not authorized the app, or revoked it already).
pub async fn revoke_consents_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    app_id: &AppId,
    now: Timestamp,
) -> Result<Vec<ConsentId>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE oauth_consents SET revoked_at = $1, updated_at = $1 \
         WHERE user_id = $2 AND app_id = $3 AND revoked_at IS NULL RETURNING id",
    )
    .bind(now)
    .bind(user_id)
    .bind(app_id)
    .fetch_all(executor)
    .await
}

/// Revokes every token `app_id` holds for `user_id` (its installations'
/// tokens, which carry no person, stay).
pub async fn revoke_user_app_tokens<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    app_id: &AppId,
    now: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $1 \
         WHERE user_id = $2 AND app_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(app_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected())
}
