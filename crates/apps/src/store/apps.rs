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

const APP_COLUMNS: &str = "id, organization_id, slug, name, description, category, icon_url, \
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
