use crate::ids::{MarketplaceOrderId, RefundId, VendorOrderId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use super::{PayoutProvider, RefundStatus};

// ---- refunds -------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    pub id: RefundId,
    /// What is refunded (`refund_<vendor order>`, `late_<order>`): unique.
    pub refund_key: String,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: Option<VendorOrderId>,
    pub provider: PayoutProvider,
    pub payment_reference: String,
    pub amount: i64,
    pub currency: String,
    pub status: RefundStatus,
    pub attempts: i64,
    pub claimed_until: Option<Timestamp>,
    pub refund_reference: Option<String>,
    pub last_error: Option<String>,
    pub refunded_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const REFUND_COLUMNS: &str = "id, refund_key, order_id, vendor_order_id, provider, \
     payment_reference, amount, currency, status, attempts, claimed_until, refund_reference, \
     last_error, refunded_at, created_at, updated_at";

/// Records a refund to make; false when one with its key exists already
/// (the refund is then not asked for twice).
pub async fn insert_refund(conn: &mut AnyConnection, row: &RefundRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO marketplace_refunds ({REFUND_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, NULL, NULL, $10, $10) \
         ON CONFLICT (refund_key) DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.refund_key)
    .bind(&row.order_id)
    .bind(&row.vendor_order_id)
    .bind(row.provider)
    .bind(&row.payment_reference)
    .bind(row.amount)
    .bind(&row.currency)
    .bind(row.status)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn refund<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &RefundId,
) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REFUND_COLUMNS} FROM marketplace_refunds WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

pub async fn refund_by_key<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    key: &str,
) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REFUND_COLUMNS} FROM marketplace_refunds WHERE refund_key = $1"
    ))
    .bind(key)
    .fetch_optional(executor)
    .await
}

/// An order's refunds, oldest first.
pub async fn refunds_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    order_id: &MarketplaceOrderId,
) -> Result<Vec<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REFUND_COLUMNS} FROM marketplace_refunds WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(executor)
    .await
}

/// Claims an attempt at a refund not yet made, until `until`: one worker
/// at a time talks to the provider about it. Returns the attempts made,
/// this one included; `None` when the refund was made or another worker's
/// claim still runs.
pub async fn claim_refund<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &RefundId,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<i64>, sqlx::Error> {
    let attempts: Option<(i64,)> = sqlx::query_as(
        "UPDATE marketplace_refunds SET status = 'sending', attempts = attempts + 1, \
         claimed_until = $1, updated_at = $2 \
         WHERE id = $3 AND status <> 'refunded' AND (claimed_until IS NULL OR claimed_until < $2) \
         RETURNING attempts",
    )
    .bind(until)
    .bind(now)
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(attempts.map(|(n,)| n))
}

/// The provider made the refund: its reference, once.
pub async fn mark_refunded(
    conn: &mut AnyConnection,
    id: &RefundId,
    reference: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_refunds SET status = 'refunded', refund_reference = $1, \
         refunded_at = $2, updated_at = $2, claimed_until = NULL, last_error = NULL \
         WHERE id = $3 AND status <> 'refunded'",
    )
    .bind(reference)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An attempt ended without a refund reference: `sending` when its outcome
/// is unknown (the next attempt asks the provider first), `failed` when
/// the provider refused it. The claim is released.
pub async fn note_refund_error<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &RefundId,
    status: RefundStatus,
    error: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_refunds SET status = $1, last_error = $2, claimed_until = NULL, \
         updated_at = $3 WHERE id = $4 AND status <> 'refunded'",
    )
    .bind(status)
    .bind(error)
    .bind(at)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}
