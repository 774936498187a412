//! Refunds, made once. A refund is recorded (amount, provider, payment,
//! what it refunds) in the transaction that decides it, under a key that
//! names what is refunded (`refund_<vendor order>`, `late_<order>`), so a
//! second decision (a replayed event) records nothing more. The job then:
//!
//! - stops when the refund reference is known (made by an earlier run);
//! - claims the refund for one attempt at a time (a second run while the
//!   first talks to the provider waits and tries later);
//! - when an earlier attempt's outcome is unknown (a timeout, a lost
//!   answer, a worker that died, a lease that ran out, an operator's
//!   replay days later when Stripe has forgotten the idempotency key), asks
//!   the provider for the payment's refunds first — Stripe's
//!   `GET /v1/refunds?payment_intent=`, Paystack's `GET /refund?transaction=` —
//!   and records the one carrying its key (Stripe `metadata`, Paystack
//!   `merchant_note`) instead of refunding again;
//! - only then calls the provider, still with the key as Stripe's
//!   `Idempotency-Key`.

use std::time::Duration;

use crate::ids::{RefundId, VendorOrderId};
use landlord_core::Timestamp;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde_json::Value;
use sqlx::AnyConnection;

use crate::provider::ProviderError;
use crate::store::{self, OrderRow, PayoutProvider, RefundRow, RefundStatus};

pub const REFUND_JOB: &str = "marketplace.refund";

/// How long one attempt holds a refund: longer than the provider call's
/// timeout, so that a second run never calls while the first may still.
const CLAIM: Duration = Duration::from_secs(120);

/// Records a refund of `amount` of the order's payment under `key` and
/// queues its job, in the caller's transaction. Nothing happens when a
/// refund with `key` was recorded already: it is made once.
pub async fn queue_refund(
    conn: &mut AnyConnection,
    order: &OrderRow,
    payment_reference: &str,
    amount: i64,
    key: &str,
    vendor_order_id: Option<&VendorOrderId>,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    let row = RefundRow {
        id: RefundId::generate(),
        refund_key: key.to_string(),
        order_id: order.id.clone(),
        vendor_order_id: vendor_order_id.cloned(),
        provider: order.provider,
        payment_reference: payment_reference.to_string(),
        amount,
        currency: order.currency.clone(),
        status: RefundStatus::Pending,
        attempts: 0,
        claimed_until: None,
        refund_reference: None,
        last_error: None,
        refunded_at: None,
        created_at: now,
        updated_at: now,
    };
    if store::insert_refund(&mut *conn, &row).await? {
        let job = NewJob::new(REFUND_JOB, serde_json::json!({ "refund": row.id }));
        landlord_jobs::enqueue(&mut *conn, job).await?;
    }
    Ok(())
}

/// Makes a recorded refund; a failure is retried, then stays dead in the
/// jobs table for an operator, whose replay is as safe as a retry.
pub struct RefundJob {
    pub context: crate::JobContext,
}

#[async_trait::async_trait]
impl JobHandler for RefundJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let db = &self.context.db;
        let id = match payload["refund"].as_str() {
            Some(id) => RefundId::from_trusted(id),
            None => self.legacy(payload).await?,
        };
        let Some(refund) = store::refund(db.pool(), &id).await? else {
            // Its order was deleted.
            return Ok(());
        };
        if refund.status == RefundStatus::Refunded {
            return Ok(());
        }
        let now = Timestamp::now();
        let Some(attempts) = store::claim_refund(db.pool(), &id, now, now.plus(CLAIM)).await?
        else {
            match store::refund(db.pool(), &id).await? {
                Some(r) if r.status != RefundStatus::Refunded => {
                    anyhow::bail!(
                        "refund {id} is being attempted by another worker; checked again later"
                    )
                }
                _ => return Ok(()),
            }
        };
        let client = &self.context.client;
        if attempts > 1 {
            // An earlier attempt may have refunded without our knowing.
            match client
                .find_refund(
                    refund.provider,
                    &refund.payment_reference,
                    &refund.refund_key,
                )
                .await
            {
                Ok(Some(reference)) => {
                    tracing::info!(refund = %id, reference, "an earlier attempt's refund found at the provider");
                    return self.refunded(&refund, &reference).await;
                }
                Ok(None) => {}
                Err(error) => {
                    let error = format!("cannot list the payment's refunds: {error}");
                    store::note_refund_error(
                        db.pool(),
                        &id,
                        RefundStatus::Sending,
                        &error,
                        Timestamp::now(),
                    )
                    .await?;
                    anyhow::bail!(error)
                }
            }
        }
        match client
            .refund(
                refund.provider,
                &refund.payment_reference,
                refund.amount,
                &refund.refund_key,
            )
            .await
        {
            Ok(reference) => self.refunded(&refund, &reference).await,
            Err(error) => {
                let status = match error {
                    ProviderError::Declined(_)
                    | ProviderError::NotFound(_)
                    | ProviderError::NotConfigured(_) => RefundStatus::Failed,
                    // Maybe made: the next attempt asks first.
                    ProviderError::Unavailable(_) => RefundStatus::Sending,
                };
                let error = error.to_string();
                store::note_refund_error(db.pool(), &id, status, &error, Timestamp::now()).await?;
                anyhow::bail!(error)
            }
        }
    }
}

impl RefundJob {
    async fn refunded(&self, refund: &RefundRow, reference: &str) -> anyhow::Result<()> {
        let mut tx = self.context.db.begin().await?;
        if store::mark_refunded(&mut tx, &refund.id, reference, Timestamp::now()).await? {
            if let Some(part) = &refund.vendor_order_id {
                store::set_refund_reference(&mut *tx, part, reference).await?;
            }
        }
        tx.commit().await?;
        tracing::info!(
            refund = %refund.id,
            amount = refund.amount,
            reference,
            "marketplace refund made"
        );
        Ok(())
    }

    /// A job queued before refunds were recorded carries the refund itself:
    /// it is recorded now (once, by its key) and made like the others.
    async fn legacy(&self, payload: &Value) -> anyhow::Result<RefundId> {
        let key = payload["key"].as_str().unwrap_or_default();
        let reference = payload["reference"].as_str().unwrap_or_default();
        let amount = payload["amount"].as_i64().unwrap_or(0);
        if key.is_empty() || reference.is_empty() || amount <= 0 {
            anyhow::bail!("refund without a key, a payment reference or an amount");
        }
        let db = &self.context.db;
        if let Some(found) = store::refund_by_key(db.pool(), key).await? {
            return Ok(found.id);
        }
        let order_id = payload["order_id"]
            .as_str()
            .and_then(crate::ids::MarketplaceOrderId::parse)
            .ok_or_else(|| anyhow::anyhow!("refund without an order"))?;
        let mut tx = db.begin().await?;
        let order = store::order_by_id(&mut *tx, &order_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("refund of an order that does not exist"))?;
        if let Some(provider) = payload["provider"].as_str().and_then(PayoutProvider::parse) {
            anyhow::ensure!(
                provider == order.provider,
                "refund through another provider"
            );
        }
        let part = payload["vendor_order_id"]
            .as_str()
            .and_then(VendorOrderId::parse);
        let now = Timestamp::now();
        let row = RefundRow {
            id: RefundId::generate(),
            refund_key: key.to_string(),
            order_id: order.id.clone(),
            vendor_order_id: part,
            provider: order.provider,
            payment_reference: reference.to_string(),
            amount,
            currency: order.currency.clone(),
            status: RefundStatus::Pending,
            attempts: 0,
            claimed_until: None,
            refund_reference: None,
            last_error: None,
            refunded_at: None,
            created_at: now,
            updated_at: now,
        };
        store::insert_refund(&mut tx, &row).await?;
        tx.commit().await?;
        let found = store::refund_by_key(db.pool(), key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the refund just recorded is missing"))?;
        Ok(found.id)
    }
}
