use crate::ids::{LedgerEntryId, PayoutId, VendorOrderId};
use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use super::{LedgerKind, PayoutProvider, PayoutStatus};

// ---- the ledger ----------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerRow {
    pub id: LedgerEntryId,
    pub vendor_id: OrganizationId,
    pub kind: LedgerKind,
    pub amount: i64,
    pub currency: String,
    pub vendor_order_id: Option<VendorOrderId>,
    pub payout_id: Option<PayoutId>,
    pub created_at: Timestamp,
}

/// Writes an entry once: the unique indexes let a vendor order be earned
/// and reversed once and a payout paid out once. False: it was there.
pub async fn insert_ledger_entry(
    conn: &mut AnyConnection,
    row: &LedgerRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO marketplace_ledger (id, vendor_id, kind, amount, currency, vendor_order_id, \
         payout_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.vendor_id)
    .bind(row.kind)
    .bind(row.amount)
    .bind(&row.currency)
    .bind(&row.vendor_order_id)
    .bind(&row.payout_id)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A vendor's entries, newest first.
pub async fn ledger_entries<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    limit: i64,
) -> Result<Vec<LedgerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, vendor_id, kind, amount, currency, vendor_order_id, payout_id, created_at \
         FROM marketplace_ledger WHERE vendor_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(vendor_id)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Per currency: earned, reversed, paid out.
pub async fn ledger_totals<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, \
         CAST(COALESCE(SUM(CASE WHEN kind = 'earned' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'reversed' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN kind = 'paid_out' THEN amount ELSE 0 END), 0) AS BIGINT) \
         FROM marketplace_ledger WHERE vendor_id = $1 GROUP BY currency ORDER BY currency",
    )
    .bind(vendor_id)
    .fetch_all(executor)
    .await
}

// ---- payouts -------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayoutRow {
    pub id: PayoutId,
    pub vendor_id: OrganizationId,
    pub amount: i64,
    pub currency: String,
    pub provider: PayoutProvider,
    pub account: String,
    pub status: PayoutStatus,
    pub attempts: i64,
    pub transfer_reference: Option<String>,
    pub last_error: Option<String>,
    pub paid_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const PAYOUT_COLUMNS: &str = "id, vendor_id, amount, currency, provider, account, status, \
     attempts, transfer_reference, last_error, paid_at, created_at, updated_at";

pub async fn insert_payout<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &PayoutRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO marketplace_payouts ({PAYOUT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, NULL, NULL, NULL, $8, $8)"
    ))
    .bind(&row.id)
    .bind(&row.vendor_id)
    .bind(row.amount)
    .bind(&row.currency)
    .bind(row.provider)
    .bind(&row.account)
    .bind(row.status)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn payout<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &PayoutId,
) -> Result<Option<PayoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYOUT_COLUMNS} FROM marketplace_payouts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// Payouts, newest first: a vendor's (when given), of a status (when given).
pub async fn payouts<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: Option<&OrganizationId>,
    status: Option<PayoutStatus>,
    before: Option<&PayoutId>,
    limit: i64,
) -> Result<Vec<PayoutRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {PAYOUT_COLUMNS} FROM marketplace_payouts WHERE ($1 = '' OR vendor_id = $1) \
         AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(vendor_id.map_or("", OrganizationId::as_str))
    .bind(status.map_or("", PayoutStatus::as_str))
    .bind(before.map_or("", PayoutId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Counts an attempt at a pending payout; false when it is not pending
/// (paid by an earlier attempt, or failed).
pub async fn count_payout_attempt<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &PayoutId,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_payouts SET attempts = attempts + 1, updated_at = $1 \
         WHERE id = $2 AND status = 'pending'",
    )
    .bind(at)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A pending payout's transfer went through; false when it was not pending.
pub async fn mark_payout_paid(
    conn: &mut AnyConnection,
    id: &PayoutId,
    transfer_reference: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_payouts SET status = 'paid', transfer_reference = $1, \
         last_error = NULL, paid_at = $2, updated_at = $2 WHERE id = $3 AND status = 'pending'",
    )
    .bind(transfer_reference)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes an attempt's error; `failed` ends the payout (after its last try).
pub async fn note_payout_error(
    conn: &mut AnyConnection,
    id: &PayoutId,
    error: &str,
    failed: bool,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_payouts SET last_error = $1, \
         status = CASE WHEN $2 = 1 THEN 'failed' ELSE status END, updated_at = $3 \
         WHERE id = $4 AND status = 'pending'",
    )
    .bind(error)
    .bind(i64::from(failed))
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An operator retries a failed payout: pending again.
pub async fn reopen_payout<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &PayoutId,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_payouts SET status = 'pending', updated_at = $1 \
         WHERE id = $2 AND status = 'failed'",
    )
    .bind(at)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
