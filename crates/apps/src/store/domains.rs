//! Custom domains (`app_domains`) and the quarantine of removed ones
//! (`app_domain_quarantine`). Reads of an app's domains take the
//! organization's id, so another tenant's ids find nothing.

use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use crate::ids::{AppDomainId, AppId};

landlord_core::text_enum!(
    /// Where a custom domain stands: only a verified one is routed.
    pub enum DomainStatus {
        /// Added; its TXT record has not been found yet.
        Pending = "pending",
        /// Its TXT record held the challenge: routed to the app.
        Verified = "verified",
        /// Its record was missing or wrong at the last check (a verified
        /// domain whose record went away is detached).
        Failed = "failed",
    }
);

/// A custom domain as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    pub id: AppDomainId,
    pub app_id: AppId,
    pub organization_id: OrganizationId,
    pub domain: String,
    pub challenge: String,
    pub status: DomainStatus,
    pub last_error: Option<String>,
    pub verified_at: Option<Timestamp>,
    pub checked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, app_id, organization_id, domain, challenge, status, last_error, \
                       verified_at, checked_at, created_at, updated_at";

/// Adds a domain. Fails with a unique violation when the app already
/// asked for it.
pub async fn insert_domain<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &DomainRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO app_domains ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&row.id)
    .bind(&row.app_id)
    .bind(&row.organization_id)
    .bind(&row.domain)
    .bind(&row.challenge)
    .bind(row.status)
    .bind(&row.last_error)
    .bind(row.verified_at)
    .bind(row.checked_at)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The organization's app's domains, oldest first.
pub async fn domains_of_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    app_id: &AppId,
) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_domains WHERE organization_id = $1 AND app_id = $2 \
         ORDER BY created_at, domain"
    ))
    .bind(organization_id)
    .bind(app_id)
    .fetch_all(executor)
    .await
}

/// How many domains the app asked for.
pub async fn count_domains_of_app<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM app_domains WHERE app_id = $1")
        .bind(app_id)
        .fetch_one(executor)
        .await
}

/// One of the organization's app's domains.
pub async fn own_domain<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    app_id: &AppId,
    id: &AppDomainId,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_domains WHERE organization_id = $1 AND app_id = $2 AND id = $3"
    ))
    .bind(organization_id)
    .bind(app_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A domain by its id alone (the verification job's re-read).
pub async fn domain_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &AppDomainId,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM app_domains WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// The app that holds `domain` verified, if any.
pub async fn verified_holder<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    domain: &str,
) -> Result<Option<AppId>, sqlx::Error> {
    sqlx::query_scalar("SELECT app_id FROM app_domains WHERE domain = $1 AND status = 'verified'")
        .bind(domain)
        .fetch_optional(executor)
        .await
}

/// Records a check's outcome. `verified_at` is kept when a verified domain
/// stays verified. Fails with a unique violation when `status` is
/// verified and another app holds the domain verified.
pub async fn set_domain_status<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &AppDomainId,
    status: DomainStatus,
    last_error: Option<&str>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE app_domains SET status = $1, last_error = $2, checked_at = $3, updated_at = $3, \
         verified_at = CASE WHEN $1 = 'verified' THEN COALESCE(verified_at, $3) ELSE NULL END \
         WHERE id = $4",
    )
    .bind(status)
    .bind(last_error)
    .bind(now)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes one of the organization's app's domains.
pub async fn delete_domain<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &AppDomainId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM app_domains WHERE organization_id = $1 AND id = $2")
        .bind(organization_id)
        .bind(id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Domains due for a check: pending and failed ones (never checked, or last checked
/// before `pending_before`) and verified ones last checked before
/// `verified_before`; at most `limit`, the longest unchecked first.
pub async fn domains_due<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    pending_before: Timestamp,
    verified_before: Timestamp,
    limit: i64,
) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_domains \
         WHERE (status IN ('pending', 'failed') AND (checked_at IS NULL OR checked_at < $1)) \
            OR (status = 'verified' AND (checked_at IS NULL OR checked_at < $2)) \
         ORDER BY COALESCE(checked_at, 0), id LIMIT $3"
    ))
    .bind(pending_before)
    .bind(verified_before)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The organization that holds `domain` in quarantine until after `now`.
pub async fn domain_quarantined_for<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    domain: &str,
    now: Timestamp,
) -> Result<Option<OrganizationId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT organization_id FROM app_domain_quarantine WHERE domain = $1 AND until > $2",
    )
    .bind(domain)
    .bind(now)
    .fetch_optional(executor)
    .await
}

/// Keeps `domain` for `organization_id` until `until` (a later quarantine
/// of the same domain replaces an earlier one).
pub async fn quarantine_domain<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    domain: &str,
    organization_id: &OrganizationId,
    until: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_domain_quarantine (domain, organization_id, until) VALUES ($1, $2, $3) \
         ON CONFLICT (domain) DO UPDATE SET organization_id = excluded.organization_id, \
         until = excluded.until",
    )
    .bind(domain)
    .bind(organization_id)
    .bind(until)
    .execute(executor)
    .await?;
    Ok(())
}

/// Claims `id`'s check for this instance: moves `checked_at` from what it
/// was read as (`seen`) to `now`. False when another instance claimed it
/// first.
pub async fn claim_check<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &AppDomainId,
    seen: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = match seen {
        Some(seen) => {
            sqlx::query("UPDATE app_domains SET checked_at = $1 WHERE id = $2 AND checked_at = $3")
                .bind(now)
                .bind(id)
                .bind(seen)
                .execute(executor)
                .await?
        }
        None => {
            sqlx::query(
                "UPDATE app_domains SET checked_at = $1 WHERE id = $2 AND checked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(executor)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}
