//! Payments' SQL: its tables are `payments`, `provider_webhook_events` and
//! `reconciliation_discrepancies`. Billing cycles are billing's, reached
//! through `landlord_billing::store`.

use landlord_core::ids::{
    BillingCycleId, DiscrepancyId, OrganizationId, PaymentId, UserId, WebhookEventId,
};
use landlord_core::{Db, Timestamp};
use sqlx::{Any, AnyConnection, Executor};

use crate::providers::ProviderName;

landlord_core::text_enum!(
    /// Where a payment is.
    pub enum PaymentStatus {
        /// A checkout was started; nothing is paid yet.
        Initiated = "initiated",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Money for a cycle another payment already settled: to refund.
        Duplicate = "duplicate",
    }
);

impl PaymentStatus {
    /// Whether the money arrived (a duplicate was paid too).
    pub fn is_paid(self) -> bool {
        matches!(self, PaymentStatus::Succeeded | PaymentStatus::Duplicate)
    }
}

landlord_core::text_enum!(
    /// Where a provider's event is in its processing.
    pub enum WebhookEventStatus {
        Received = "received",
        Processed = "processed",
        /// Failed an attempt; retried.
        Failed = "failed",
        /// Failed its last attempt; waits for an operator's replay.
        Dead = "dead",
    }
);

landlord_core::text_enum!(
    /// What differs between a provider's records and ours.
    pub enum DiscrepancyKind {
        AmountMismatch = "amount_mismatch",
        UnknownCycle = "unknown_cycle",
        ProviderPaidWeDidNot = "provider_paid_we_did_not",
        WePaidProviderDidNot = "we_paid_provider_did_not",
        DuplicatePayment = "duplicate_payment",
    }
);

// ---- payments -------------------------------------------------------------------

/// A payment to record.
#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub organization_id: &'a OrganizationId,
    pub billing_cycle_id: &'a BillingCycleId,
    pub provider: ProviderName,
    pub reference: &'a str,
    pub checkout_url: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    pub status: PaymentStatus,
}

/// Records a payment unless the provider's reference is already known.
pub async fn insert_payment<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    payment: &NewPayment<'_>,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    sqlx::query(
        "INSERT INTO payments (id, organization_id, billing_cycle_id, provider, provider_reference, checkout_url, \
         amount, currency, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (provider, provider_reference) DO NOTHING",
    )
    .bind(PaymentId::generate())
    .bind(payment.organization_id)
    .bind(payment.billing_cycle_id)
    .bind(payment.provider)
    .bind(payment.reference)
    .bind(payment.checkout_url)
    .bind(payment.amount)
    .bind(payment.currency)
    .bind(payment.status)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// The status of the payment with the provider's reference, if known.
pub async fn payment_status(
    conn: &mut AnyConnection,
    provider: ProviderName,
    reference: &str,
) -> Result<Option<PaymentStatus>, sqlx::Error> {
    let row: Option<(PaymentStatus,)> = sqlx::query_as(
        "SELECT status FROM payments WHERE provider = $1 AND provider_reference = $2",
    )
    .bind(provider)
    .bind(reference)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(status,)| status))
}

/// The id of the payment of `provider` with `reference`, if recorded.
pub async fn payment_id(
    conn: &mut AnyConnection,
    provider: ProviderName,
    reference: &str,
) -> Result<Option<PaymentId>, sqlx::Error> {
    let row: Option<(PaymentId,)> =
        sqlx::query_as("SELECT id FROM payments WHERE provider = $1 AND provider_reference = $2")
            .bind(provider)
            .bind(reference)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// A payment a provider reported failed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailedPayment {
    pub id: PaymentId,
    pub organization_id: OrganizationId,
    pub billing_cycle_id: Option<BillingCycleId>,
    pub amount: i64,
    pub currency: String,
}

/// Marks the initiated payment of `provider` with `reference` failed;
/// answers it when this call did (not for an unknown reference, nor a
/// payment that already succeeded or failed).
pub async fn mark_payment_failed(
    conn: &mut AnyConnection,
    provider: ProviderName,
    reference: &str,
) -> Result<Option<FailedPayment>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE payments SET status = $3, updated_at = $5 \
         WHERE provider = $1 AND provider_reference = $2 AND status = $4 \
         RETURNING id, organization_id, billing_cycle_id, amount, currency",
    )
    .bind(provider)
    .bind(reference)
    .bind(PaymentStatus::Failed)
    .bind(PaymentStatus::Initiated)
    .bind(Timestamp::now())
    .fetch_optional(conn)
    .await
}

pub async fn set_payment_status(
    conn: &mut AnyConnection,
    provider: ProviderName,
    reference: &str,
    status: PaymentStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET status = $3, updated_at = $4 WHERE provider = $1 AND provider_reference = $2",
    )
    .bind(provider)
    .bind(reference)
    .bind(status)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether a payment other than `provider`/`reference` already succeeded
/// for the cycle.
pub async fn paid_by_another(
    conn: &mut AnyConnection,
    cycle_id: &BillingCycleId,
    provider: ProviderName,
    reference: &str,
) -> Result<bool, sqlx::Error> {
    let (others,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM payments WHERE billing_cycle_id = $1 AND status = $4 \
         AND NOT (provider = $2 AND provider_reference = $3)",
    )
    .bind(cycle_id)
    .bind(provider)
    .bind(reference)
    .bind(PaymentStatus::Succeeded)
    .fetch_one(conn)
    .await?;
    Ok(others > 0)
}

/// The payment that settled an organization's cycle (a receipt's
/// provider and reference), the latest if several did.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettledPayment {
    pub provider: ProviderName,
    pub provider_reference: String,
    pub amount: i64,
    pub currency: String,
    pub updated_at: Timestamp,
}

pub async fn settled_payment<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    cycle_id: &BillingCycleId,
) -> Result<Option<SettledPayment>, sqlx::Error> {
    sqlx::query_as(
        "SELECT provider, provider_reference, amount, currency, updated_at FROM payments \
         WHERE organization_id = $1 AND billing_cycle_id = $2 AND status = $3 \
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(organization_id)
    .bind(cycle_id)
    .bind(PaymentStatus::Succeeded)
    .fetch_optional(executor)
    .await
}

/// A payment as reconciliation compares it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub organization_id: OrganizationId,
    pub billing_cycle_id: Option<BillingCycleId>,
    pub provider: ProviderName,
    pub provider_reference: String,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
}

/// Payments created since `since`, oldest first.
pub async fn payments_since(db: &Db, since: Timestamp) -> Result<Vec<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT organization_id, billing_cycle_id, provider, provider_reference, amount, currency, status \
         FROM payments WHERE created_at >= $1 ORDER BY created_at",
    )
    .bind(since)
    .fetch_all(db.pool())
    .await
}

/// Payments that succeeded since `since`, summed by currency.
pub async fn revenue_since(db: &Db, since: Timestamp) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM payments WHERE status = $2 AND updated_at >= $1 GROUP BY currency",
    )
    .bind(since)
    .bind(PaymentStatus::Succeeded)
    .fetch_all(db.pool())
    .await
}

// ---- provider webhook events ------------------------------------------------------

/// Stores a verified event unless the provider's event id was seen;
/// returns its id when it is new.
pub async fn insert_event(
    conn: &mut AnyConnection,
    provider: ProviderName,
    event_id: &str,
    event_type: &str,
    payload: &str,
) -> Result<Option<WebhookEventId>, sqlx::Error> {
    let id = WebhookEventId::generate();
    let inserted = sqlx::query(
        "INSERT INTO provider_webhook_events (id, provider, event_id, event_type, payload, status, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(&id)
    .bind(provider)
    .bind(event_id)
    .bind(event_type)
    .bind(payload)
    .bind(WebhookEventStatus::Received)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok((inserted.rows_affected() > 0).then_some(id))
}

/// A stored event, to process.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    pub provider: ProviderName,
    pub event_type: String,
    pub payload: String,
    pub status: WebhookEventStatus,
}

pub async fn event(db: &Db, id: &WebhookEventId) -> Result<Option<StoredEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT provider, event_type, payload, status FROM provider_webhook_events WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await
}

/// Counts one more processing attempt of the event.
pub async fn count_attempt(db: &Db, id: &WebhookEventId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE provider_webhook_events SET attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn mark_processed(db: &Db, id: &WebhookEventId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_webhook_events SET status = $2, processed_at = $3, last_error = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(WebhookEventStatus::Processed)
    .bind(Timestamp::now())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Records a failed attempt (`status`: failed, or dead after the last).
pub async fn mark_failed(
    db: &Db,
    id: &WebhookEventId,
    status: WebhookEventStatus,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE provider_webhook_events SET status = $2, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(error)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Puts a failed or dead event back to `received`; false when no such
/// event is failed or dead.
pub async fn requeue_event(
    conn: &mut AnyConnection,
    id: &WebhookEventId,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE provider_webhook_events SET status = $2, last_error = NULL \
         WHERE id = $1 AND status IN ($3, $4)",
    )
    .bind(id)
    .bind(WebhookEventStatus::Received)
    .bind(WebhookEventStatus::Failed)
    .bind(WebhookEventStatus::Dead)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// An event as operators see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: WebhookEventId,
    pub provider: ProviderName,
    pub event_id: String,
    pub event_type: String,
    pub status: WebhookEventStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

/// Events in one of `statuses`, newest first.
pub async fn events_with_status(
    db: &Db,
    statuses: &[WebhookEventStatus],
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let (Some(first), second) = (statuses.first(), statuses.get(1)) else {
        return Ok(Vec::new());
    };
    sqlx::query_as(
        "SELECT id, provider, event_id, event_type, status, attempts, last_error, created_at \
         FROM provider_webhook_events WHERE status = $1 OR status = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(*first)
    .bind(*second.unwrap_or(first))
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// Processed events, and events that finished (processed, failed or dead).
pub async fn processed_and_finished(db: &Db) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'processed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status IN ('processed', 'failed', 'dead') THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM provider_webhook_events",
    )
    .fetch_one(db.pool())
    .await
}

// ---- reconciliation discrepancies -------------------------------------------------

/// A difference to record.
#[derive(Debug, Clone)]
pub struct NewDiscrepancy<'a> {
    pub provider: ProviderName,
    pub organization_id: Option<&'a OrganizationId>,
    pub billing_cycle_id: Option<&'a BillingCycleId>,
    pub reference: &'a str,
    pub kind: DiscrepancyKind,
    pub ours: Option<&'a str>,
    pub theirs: &'a str,
}

pub async fn insert_discrepancy<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    discrepancy: &NewDiscrepancy<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reconciliation_discrepancies (id, provider, organization_id, billing_cycle_id, provider_reference, \
         kind, ours, theirs, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(DiscrepancyId::generate())
    .bind(discrepancy.provider)
    .bind(discrepancy.organization_id)
    .bind(discrepancy.billing_cycle_id)
    .bind(discrepancy.reference)
    .bind(discrepancy.kind)
    .bind(discrepancy.ours)
    .bind(discrepancy.theirs)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(())
}

/// Whether an unresolved discrepancy of `kind` is open for the payment.
pub async fn discrepancy_open(
    db: &Db,
    provider: ProviderName,
    reference: &str,
    kind: DiscrepancyKind,
) -> Result<bool, sqlx::Error> {
    let open: Option<(DiscrepancyId,)> = sqlx::query_as(
        "SELECT id FROM reconciliation_discrepancies WHERE provider = $1 AND provider_reference = $2 \
         AND kind = $3 AND resolved_at IS NULL",
    )
    .bind(provider)
    .bind(reference)
    .bind(kind)
    .fetch_optional(db.pool())
    .await?;
    Ok(open.is_some())
}

/// A discrepancy as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DiscrepancyRow {
    pub id: DiscrepancyId,
    pub provider: ProviderName,
    pub organization_id: Option<OrganizationId>,
    pub billing_cycle_id: Option<BillingCycleId>,
    pub provider_reference: Option<String>,
    pub kind: DiscrepancyKind,
    pub ours: Option<String>,
    pub theirs: Option<String>,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

/// Resolved or unresolved discrepancies, newest first.
pub async fn discrepancies(
    db: &Db,
    resolved: bool,
    limit: i64,
) -> Result<Vec<DiscrepancyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT id, provider, organization_id, billing_cycle_id, provider_reference, kind, ours, theirs, created_at, resolved_at \
         FROM reconciliation_discrepancies WHERE resolved_at IS {} NULL ORDER BY id DESC LIMIT $1",
        if resolved { "NOT" } else { "" }
    ))
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// Marks the discrepancy resolved by `by`; false when no unresolved one
/// has that id.
pub async fn resolve_discrepancy(
    conn: &mut AnyConnection,
    id: &DiscrepancyId,
    by: &UserId,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE reconciliation_discrepancies SET resolved_at = $2, resolved_by = $3 WHERE id = $1 AND resolved_at IS NULL",
    )
    .bind(id)
    .bind(Timestamp::now())
    .bind(by)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Payments settled (succeeded, failed or duplicate) since `since`: how
/// many failed and how many in all (operator alerts' payment failure rate).
pub async fn payment_failures_since(db: &Db, since: Timestamp) -> Result<(i64, i64), sqlx::Error> {
    let (failed, total): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         COUNT(*) \
         FROM payments WHERE status <> 'initiated' AND updated_at >= $1",
    )
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    Ok((failed, total))
}

/// Provider webhook events received since `since`: how many failed their
/// processing (failed or dead) and how many in all (operator alerts'
/// webhook failure rate).
pub async fn event_failures_since(db: &Db, since: Timestamp) -> Result<(i64, i64), sqlx::Error> {
    let (failed, total): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status IN ('failed', 'dead') THEN 1 ELSE 0 END), 0) \
         AS BIGINT), \
         COUNT(*) FROM provider_webhook_events WHERE created_at >= $1",
    )
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    Ok((failed, total))
}

/// Reconciliation discrepancies found since `since`.
pub async fn discrepancies_since(db: &Db, since: Timestamp) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM reconciliation_discrepancies WHERE created_at >= $1")
            .bind(since)
            .fetch_one(db.pool())
            .await?;
    Ok(n)
}
