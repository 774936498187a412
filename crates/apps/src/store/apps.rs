use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use super::{AppStatus, ClientType};
use crate::ids::AppId;

/// An app as stored. The list columns are JSON arrays (see
/// [`crate::scopes::ScopeSet`] and [`AppRow::redirect_uris`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRow {
    pub id: AppId,
    pub organization_id: OrganizationId,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub icon_url: Option<String>,
    pub homepage_url: Option<String>,
    pub upstream_url: Option<String>,
    pub webhook_url: Option<String>,
    pub status: AppStatus,
    pub status_reason: Option<String>,
    pub client_type: ClientType,
    pub client_secret_hash: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub organization_scopes: String,
    pub search_text: String,
    pub created_by: Option<UserId>,
    pub published_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl AppRow {
    /// The registered redirect URIs, exactly as given.
    pub fn redirect_uris(&self) -> Vec<String> {
        serde_json::from_str(&self.redirect_uris).unwrap_or_default()
    }
}

pub(crate) const APP_COLUMNS: &str =
    "id, organization_id, slug, name, description, category, icon_url, \
     homepage_url, upstream_url, webhook_url, status, status_reason, client_type, \
     client_secret_hash, redirect_uris, scopes, organization_scopes, search_text, created_by, \
     published_at, created_at, updated_at";

/// Adds an app. Fails with a unique violation when the slug is taken.
pub async fn insert_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &AppRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.slug)
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.category)
    .bind(&row.icon_url)
    .bind(&row.homepage_url)
    .bind(&row.upstream_url)
    .bind(&row.webhook_url)
    .bind(row.status)
    .bind(&row.status_reason)
    .bind(row.client_type)
    .bind(&row.client_secret_hash)
    .bind(&row.redirect_uris)
    .bind(&row.scopes)
    .bind(&row.organization_scopes)
    .bind(&row.search_text)
    .bind(&row.created_by)
    .bind(row.published_at)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The app with this id (its `client_id`), whoever publishes it.
pub async fn app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &AppId,
) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// The organization's app with this id (another organization's: `None`).
pub async fn own_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &AppId,
) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {APP_COLUMNS} FROM apps WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// The organization's apps, newest first.
pub async fn apps_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {APP_COLUMNS} FROM apps WHERE organization_id = $1 \
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(organization_id)
    .fetch_all(executor)
    .await
}

/// The organization that holds `slug` in quarantine until after `now`, if any.
pub async fn slug_quarantined_for<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    slug: &str,
    now: Timestamp,
) -> Result<Option<OrganizationId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT organization_id FROM app_slug_quarantine WHERE slug = $1 AND until > $2",
    )
    .bind(slug)
    .bind(now)
    .fetch_optional(executor)
    .await
}

/// Saves an app's changeable fields (the organization's own app only).
/// Fails with a unique violation when the new slug is taken.
pub async fn update_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &AppRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apps SET slug = $1, name = $2, description = $3, category = $4, icon_url = $5, \
         homepage_url = $6, webhook_url = $7, redirect_uris = $8, scopes = $9, \
         organization_scopes = $10, search_text = $11, updated_at = $12, upstream_url = $13 \
         WHERE id = $14 AND organization_id = $15",
    )
    .bind(&row.slug)
    .bind(&row.name)
    .bind(&row.description)
    .bind(&row.category)
    .bind(&row.icon_url)
    .bind(&row.homepage_url)
    .bind(&row.webhook_url)
    .bind(&row.redirect_uris)
    .bind(&row.scopes)
    .bind(&row.organization_scopes)
    .bind(&row.search_text)
    .bind(row.updated_at)
    .bind(&row.upstream_url)
    .bind(&row.id)
    .bind(&row.organization_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a confidential client's secret hash: the old secret stops
/// working with this statement.
pub async fn set_client_secret_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &AppId,
    secret_hash: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE apps SET client_secret_hash = $1, updated_at = $2 \
         WHERE id = $3 AND organization_id = $4 AND client_type = 'confidential'",
    )
    .bind(secret_hash)
    .bind(now)
    .bind(id)
    .bind(organization_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the organization's app; its tokens, codes, consents and
/// installations go with it (the tables' cascades).
pub async fn delete_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &AppId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM apps WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(organization_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps `slug` for `organization_id` until `until` (a later quarantine of
/// the same slug replaces an earlier one).
pub async fn quarantine_slug<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    slug: &str,
    organization_id: &OrganizationId,
    until: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_slug_quarantine (slug, organization_id, until) VALUES ($1, $2, $3) \
         ON CONFLICT (slug) DO UPDATE SET organization_id = excluded.organization_id, \
         until = excluded.until",
    )
    .bind(slug)
    .bind(organization_id)
    .bind(until)
    .execute(executor)
    .await?;
    Ok(())
}

/// Moves an app from one of `from` to `to` with `reason` (cleared when
/// `None`); publishing sets `published_at`. `false` when the app is not in
/// one of `from` (or does not exist).
pub async fn set_app_status<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &AppId,
    from: &[AppStatus],
    to: AppStatus,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    // Up to three statuses, the first repeated to fill the list.
    let first = from.first().copied().unwrap_or(to);
    let second = from.get(1).copied().unwrap_or(first);
    let third = from.get(2).copied().unwrap_or(first);
    let done = sqlx::query(
        "UPDATE apps SET status = $1, status_reason = $2, \
         published_at = CASE WHEN $1 = 'published' THEN $3 ELSE published_at END, \
         updated_at = $3 WHERE id = $4 AND status IN ($5, $6, $7)",
    )
    .bind(to)
    .bind(reason)
    .bind(now)
    .bind(id)
    .bind(first)
    .bind(second)
    .bind(third)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every organization's apps (`status` only, when given), newest first,
/// before the cursor's id.
pub async fn all_apps<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    status: Option<AppStatus>,
    before: Option<&AppId>,
    limit: i64,
) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {APP_COLUMNS} FROM apps \
         WHERE ($1 = '' OR status = $1) AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(status.map_or("", AppStatus::as_str))
    .bind(before.map_or("", AppId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}
