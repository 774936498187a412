//! `app_installations`, and the directory's reads of `apps`.

use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use super::{AppRow, AppStatus};
use crate::ids::{AppId, InstallationId};

/// An app installed into an organization (or once installed: see
/// `uninstalled_at`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstallationRow {
    pub id: InstallationId,
    pub app_id: AppId,
    pub organization_id: OrganizationId,
    /// JSON array of the organization scopes consented to.
    pub scopes: String,
    pub installed_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub uninstalled_at: Option<Timestamp>,
}

const INSTALLATION_COLUMNS: &str =
    "id, app_id, organization_id, scopes, installed_by, created_at, updated_at, uninstalled_at";

pub async fn insert_installation<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &InstallationRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO app_installations ({INSTALLATION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&row.id)
    .bind(&row.app_id)
    .bind(&row.organization_id)
    .bind(&row.scopes)
    .bind(&row.installed_by)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.uninstalled_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The organization's live installation of `app_id`, if any.
pub async fn live_installation_of_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    app_id: &AppId,
) -> Result<Option<InstallationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTALLATION_COLUMNS} FROM app_installations \
         WHERE organization_id = $1 AND app_id = $2 AND uninstalled_at IS NULL"
    ))
    .bind(organization_id)
    .bind(app_id)
    .fetch_optional(executor)
    .await
}

/// The organization's installation `id` (uninstalled ones included).
pub async fn installation<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InstallationId,
) -> Result<Option<InstallationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTALLATION_COLUMNS} FROM app_installations \
         WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// `app_id`'s live installation `id`, whichever organization holds it
/// (the client-credentials grant: the app names its installation).
pub async fn live_installation_for_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
    id: &InstallationId,
) -> Result<Option<InstallationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTALLATION_COLUMNS} FROM app_installations \
         WHERE id = $1 AND app_id = $2 AND uninstalled_at IS NULL"
    ))
    .bind(id)
    .bind(app_id)
    .fetch_optional(executor)
    .await
}

/// A page of the organization's live installations, newest first, after
/// the installation `before`.
pub async fn live_installations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    before: Option<&InstallationId>,
    limit: i64,
) -> Result<Vec<InstallationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INSTALLATION_COLUMNS} FROM app_installations \
         WHERE organization_id = $1 AND uninstalled_at IS NULL AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(organization_id)
    .bind(before.map_or("", InstallationId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Changes a live installation's scopes; false when it is not live.
pub async fn set_installation_scopes<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InstallationId,
    scopes: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_installations SET scopes = $2, updated_at = $3 \
         WHERE id = $1 AND uninstalled_at IS NULL",
    )
    .bind(id)
    .bind(scopes)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends a live installation; false when it had ended already.
pub async fn mark_uninstalled<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InstallationId,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_installations SET uninstalled_at = $2, updated_at = $2 \
         WHERE id = $1 AND uninstalled_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What the directory lists: published apps, newest first, whose
/// `search_text` holds `q` (lower-cased, `%` and `_` taken literally) and
/// of `category`, after the app `before`.
#[derive(Debug, Clone, Default)]
pub struct DirectoryFilter<'a> {
    pub q: Option<&'a str>,
    pub category: Option<&'a str>,
    pub before: Option<&'a AppId>,
    pub limit: i64,
}

fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

const DIRECTORY_COLUMNS: &str = "id, organization_id, slug, name, description, category, \
     icon_url, homepage_url, upstream_url, webhook_url, status, status_reason, client_type, \
     client_secret_hash, redirect_uris, scopes, organization_scopes, search_text, created_by, \
     published_at, created_at, updated_at";

pub async fn directory<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    filter: DirectoryFilter<'_>,
) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DIRECTORY_COLUMNS} FROM apps WHERE status = $1 \
         AND ($2 = '' OR search_text LIKE $2 ESCAPE '\\') \
         AND ($3 = '' OR category = $3) AND ($4 = '' OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    ))
    .bind(AppStatus::Published)
    .bind(filter.q.map(like_pattern).unwrap_or_default())
    .bind(filter.category.unwrap_or_default())
    .bind(filter.before.map_or("", AppId::as_str))
    .bind(filter.limit)
    .fetch_all(executor)
    .await
}

/// The published app `slug` (a draft, one in review or a suspended one:
/// `None`).
pub async fn published_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    slug: &str,
) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DIRECTORY_COLUMNS} FROM apps WHERE slug = $1 AND status = $2"
    ))
    .bind(slug)
    .bind(AppStatus::Published)
    .fetch_optional(executor)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_take_wildcards_literally() {
        assert_eq!(like_pattern("Ca%l_\\"), "%ca\\%l\\_\\\\%");
    }
}
