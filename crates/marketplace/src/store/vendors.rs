use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use super::{PayoutProvider, VendorStatus};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VendorRow {
    pub organization_id: OrganizationId,
    pub store_name: String,
    pub slug: String,
    pub description: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub location_label: Option<String>,
    /// Where payouts go: both or neither (a store applies without one).
    pub payout_provider: Option<PayoutProvider>,
    pub payout_account: Option<String>,
    pub status: VendorStatus,
    pub suspended_reason: Option<String>,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub approved_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const VENDOR_COLUMNS: &str = "organization_id, store_name, slug, description, latitude, \
     longitude, location_label, payout_provider, payout_account, status, suspended_reason, \
     rating_sum, rating_count, approved_at, created_at, updated_at";

/// Adds a vendor. Fails with a unique violation when the organization
/// applied already or the slug is taken.
pub async fn insert_vendor<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &VendorRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO marketplace_vendors ({VENDOR_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, 0, NULL, $11, $11)"
    ))
    .bind(&row.organization_id)
    .bind(&row.store_name)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(row.latitude)
    .bind(row.longitude)
    .bind(&row.location_label)
    .bind(row.payout_provider)
    .bind(&row.payout_account)
    .bind(row.status)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Writes the fields a vendor edits (a unique violation: slug taken).
pub async fn update_vendor<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &VendorRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_vendors SET store_name = $1, slug = $2, description = $3, \
         latitude = $4, longitude = $5, location_label = $6, payout_provider = $7, \
         payout_account = $8, updated_at = $9 WHERE organization_id = $10",
    )
    .bind(&row.store_name)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(row.latitude)
    .bind(row.longitude)
    .bind(&row.location_label)
    .bind(row.payout_provider)
    .bind(&row.payout_account)
    .bind(row.updated_at)
    .bind(&row.organization_id)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn vendor<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_COLUMNS} FROM marketplace_vendors WHERE organization_id = $1"
    ))
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

pub async fn vendor_by_slug<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    slug: &str,
) -> Result<Option<VendorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_COLUMNS} FROM marketplace_vendors WHERE slug = $1"
    ))
    .bind(slug)
    .fetch_optional(executor)
    .await
}

/// Vendors for operators, newest first, optionally of one status.
pub async fn vendors<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    status: Option<VendorStatus>,
    before: Option<&OrganizationId>,
    limit: i64,
) -> Result<Vec<VendorRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_COLUMNS} FROM marketplace_vendors \
         WHERE ($1 = '' OR status = $1) AND ($2 = '' OR organization_id < $2) \
         ORDER BY organization_id DESC LIMIT $3"
    ))
    .bind(status.map_or("", VendorStatus::as_str))
    .bind(before.map_or("", OrganizationId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// An operator's decision: approved (reason cleared), suspended or
/// rejected (with the reason).
pub async fn set_vendor_status<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    status: VendorStatus,
    reason: Option<&str>,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_vendors SET status = $1, suspended_reason = $2, \
         approved_at = CASE WHEN $1 = 'approved' THEN COALESCE(approved_at, $3) ELSE approved_at END, \
         updated_at = $3 WHERE organization_id = $4",
    )
    .bind(status)
    .bind(reason)
    .bind(at)
    .bind(organization_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An operator turns a pending application down, with the reason; false
/// when the store was not pending (approved, suspended, rejected already,
/// or gone).
pub async fn reject_vendor<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    reason: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_vendors SET status = 'rejected', suspended_reason = $1, \
         updated_at = $2 WHERE organization_id = $3 AND status = 'pending'",
    )
    .bind(reason)
    .bind(at)
    .bind(organization_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A rejected store applies again: its fields as sent, pending, the
/// operator's reason cleared. False when it was not rejected any more; a
/// unique violation when the slug is taken.
pub async fn reapply_vendor<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &VendorRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_vendors SET store_name = $1, slug = $2, description = $3, \
         latitude = $4, longitude = $5, location_label = $6, payout_provider = $7, \
         payout_account = $8, status = 'pending', suspended_reason = NULL, updated_at = $9 \
         WHERE organization_id = $10 AND status = 'rejected'",
    )
    .bind(&row.store_name)
    .bind(&row.slug)
    .bind(&row.description)
    .bind(row.latitude)
    .bind(row.longitude)
    .bind(&row.location_label)
    .bind(row.payout_provider)
    .bind(&row.payout_account)
    .bind(row.updated_at)
    .bind(&row.organization_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
