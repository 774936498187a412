//! An order's payment is confirmed only by the provider's verified webhook
//! (the payments crate checks the signature, stores the event once and
//! hands marketplace events to [`PaymentJob`]). The amount and currency
//! must be the order's; then, in one transaction, the order and its vendor
//! orders are confirmed, each vendor's earnings enter its ledger, reserved
//! stock becomes sold, and the buyer and each store are mailed. A failed
//! payment, a cancellation or the reservation's expiry releases the stock.

use crate::events::{MarketplaceOrderCancelledPayload, MarketplaceOrderPaidPayload};
use crate::ids::{LedgerEntryId, MarketplaceOrderId};
use landlord_audit::AuditEntry;
use landlord_billing::money::format_money;
use landlord_core::{Db, Timestamp};
use landlord_identity::store as identity_store;
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::Mail;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::store::{
    self, LedgerKind, LedgerRow, OrderRow, OrderStatus, PayoutProvider, ReservationStatus,
    VendorOrderChange, VendorOrderStatus,
};

/// The job for a provider event about a marketplace order.
pub const PAYMENT_JOB: &str = "marketplace.payment";

/// The key of the provider metadata naming the order a payment is for.
pub const ORDER_METADATA_KEY: &str = "marketplace_order_id";

/// The payments feature's route for the marketplace's events: those whose
/// object's metadata names [`ORDER_METADATA_KEY`] go to [`PAYMENT_JOB`].
pub const PAYMENT_ROUTE: landlord_payments::EventRoute = landlord_payments::EventRoute {
    metadata_key: ORDER_METADATA_KEY,
    job: PAYMENT_JOB,
};

/// Handles a provider event about a marketplace order.
pub struct PaymentJob {
    pub context: crate::JobContext,
}

/// A provider's claim about an order's payment.
struct Claim {
    provider: PayoutProvider,
    order_id: Option<MarketplaceOrderId>,
    reference: String,
    amount: i64,
    currency: String,
}

#[async_trait::async_trait]
impl JobHandler for PaymentJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let provider = payload["provider"]
            .as_str()
            .and_then(PayoutProvider::parse)
            .ok_or_else(|| anyhow::anyhow!("payload without a known provider"))?;
        let object = &payload["object"];
        let mut claim = Claim {
            provider,
            order_id: object["metadata"][ORDER_METADATA_KEY]
                .as_str()
                .and_then(MarketplaceOrderId::parse),
            reference: object[match provider {
                PayoutProvider::Stripe => "id",
                PayoutProvider::Paystack => "reference",
            }]
            .as_str()
            .unwrap_or_default()
            .to_string(),
            amount: object["amount"].as_i64().unwrap_or(-1),
            currency: object["currency"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase(),
        };
        let db = &self.context.db;
        match (provider, payload["event_type"].as_str().unwrap_or("")) {
            (PayoutProvider::Stripe, "payment_intent.succeeded") => self.settle(&claim).await,
            (PayoutProvider::Paystack, "charge.success") => {
                // Paystack's events are confirmed with its verify call.
                let (status, amount, currency) = self
                    .context
                    .client
                    .paystack_verify(&claim.reference)
                    .await?;
                if status != "success" {
                    anyhow::bail!("Paystack reports {} as {status}", claim.reference);
                }
                claim.amount = amount;
                claim.currency = currency;
                self.settle(&claim).await
            }
            (PayoutProvider::Stripe, "payment_intent.payment_failed")
            | (PayoutProvider::Paystack, "charge.failed") => {
                if let Some(order_id) = &claim.order_id {
                    release(db, order_id, OrderStatus::Cancelled, "payment_failed").await?;
                }
                Ok(())
            }
            // Checkout Sessions and other events: their PaymentIntent's
            // events carry the decision.
            _ => Ok(()),
        }
    }
}

impl PaymentJob {
    async fn settle(&self, claim: &Claim) -> anyhow::Result<()> {
        let db = &self.context.db;
        let Some(order_id) = &claim.order_id else {
            tracing::warn!(reference = %claim.reference, "a marketplace payment names no order");
            return Ok(());
        };
        let mut tx = db.begin().await?;
        let Some(order) = store::order_by_id(&mut *tx, order_id).await? else {
            tracing::warn!(order = %order_id, "a payment names an order that does not exist");
            return Ok(());
        };
        let theirs = serde_json::json!({
            "provider": claim.provider, "reference": claim.reference,
            "amount": claim.amount, "currency": claim.currency,
        });
        if claim.provider != order.provider
            || claim.amount != order.total
            || claim.currency != order.currency
        {
            // The order stays unpaid; an operator reads the audit log.
            tracing::warn!(order = %order.id, %theirs, "a payment does not match its order");
            landlord_audit::record(
                &mut *tx,
                AuditEntry::new("marketplace.payment_mismatch")
                    .target("marketplace_order", &order.id)
                    .details(serde_json::json!({
                        "ours": { "amount": order.total, "currency": order.currency, "provider": order.provider },
                        "theirs": theirs,
                    })),
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        let now = Timestamp::now();
        let pending = [OrderStatus::PendingPayment];
        if !store::move_order(&mut tx, &order.id, &pending, OrderStatus::Confirmed, now).await? {
            if matches!(order.status, OrderStatus::Expired | OrderStatus::Cancelled) {
                // Paid after its stock went back: refund it all.
                landlord_audit::record(
                    &mut *tx,
                    AuditEntry::new("marketplace.late_payment_refunded")
                        .target("marketplace_order", &order.id)
                        .details(theirs),
                )
                .await?;
                crate::refunds::queue_refund(
                    &mut tx,
                    &order,
                    &claim.reference,
                    order.total,
                    &format!("late_{}", order.id),
                    None,
                )
                .await?;
            }
            // Confirmed already: a duplicate event; nothing changes.
            tx.commit().await?;
            return Ok(());
        }
        store::set_paid_reference(&mut *tx, &order.id, &claim.reference).await?;
        confirm_parts(&mut tx, &order, now, &self.context.app_url).await?;
        for reservation in store::reservations_of(&mut *tx, &order.id, None).await? {
            if store::move_reservation(
                &mut tx,
                &reservation.id,
                ReservationStatus::Live,
                ReservationStatus::Sold,
                now,
            )
            .await?
            {
                store::sell_stock(&mut tx, &reservation.product_id, reservation.quantity, now)
                    .await?;
            }
        }
        self.mail_buyer(&mut tx, &order).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mail_buyer(&self, conn: &mut AnyConnection, order: &OrderRow) -> anyhow::Result<()> {
        if let Some(buyer) = identity_store::user_by_id(&mut *conn, &order.buyer_id).await? {
            let mail = Mail {
                to: buyer.email,
                template: crate::mail::ORDER_PAID.template(),
                context: serde_json::json!({
                    "order_id": order.id,
                    "amount": format_money(order.total, &order.currency),
                    "link": format!("{}/marketplace/orders/{}", &self.context.app_url, order.id),
                }),
            };
            landlord_mail::queue(&mut *conn, &mail).await?;
        }
        Ok(())
    }
}

/// Each vendor order paid: confirmed, its earnings in the ledger, the
/// store's owners mailed, `marketplace.order.paid` for the store.
async fn confirm_parts(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: Timestamp,
    app_url: &str,
) -> anyhow::Result<()> {
    for part in store::vendor_orders_of(&mut *conn, &order.id).await? {
        let change = VendorOrderChange {
            to: VendorOrderStatus::Confirmed,
            tracking_reference: None,
            cancel_reason: None,
            at: now,
        };
        if !store::move_vendor_order(conn, &part.id, VendorOrderStatus::PendingPayment, &change)
            .await?
        {
            continue;
        }
        store::insert_ledger_entry(
            conn,
            &LedgerRow {
                id: LedgerEntryId::generate(),
                vendor_id: part.vendor_id.clone(),
                kind: LedgerKind::Earned,
                amount: part.earnings,
                currency: part.currency.clone(),
                vendor_order_id: Some(part.id.clone()),
                payout_id: None,
                created_at: now,
            },
        )
        .await?;
        landlord_events::record(
            &mut *conn,
            &part.vendor_id,
            &MarketplaceOrderPaidPayload {
                organization_id: part.vendor_id.clone(),
                order_id: order.id.clone(),
                vendor_order_id: part.id.clone(),
                subtotal: part.subtotal,
                currency: part.currency.clone(),
                paid_at: now,
            },
        )
        .await?;
        let store_name = store::vendor(&mut *conn, &part.vendor_id)
            .await?
            .map(|v| v.store_name)
            .unwrap_or_default();
        for to in identity_store::owner_emails(&mut *conn, &part.vendor_id).await? {
            let mail = Mail {
                to,
                template: crate::mail::NEW_ORDER.template(),
                context: serde_json::json!({
                    "store_name": store_name,
                    "order_id": order.id,
                    "amount": format_money(part.subtotal, &part.currency),
                    "earnings": format_money(part.earnings, &part.currency),
                    "link": format!("{app_url}/o/{}/store/orders/{}", part.vendor_id, part.id),
                }),
            };
            landlord_mail::queue(&mut *conn, &mail).await?;
        }
    }
    Ok(())
}

/// An unpaid order ends (`to`: expired or cancelled, `reason` for the
/// stores' events): its vendor orders cancelled and its live reservations
/// released, once. False when the order was not unpaid any more.
pub async fn release(
    db: &Db,
    order_id: &MarketplaceOrderId,
    to: OrderStatus,
    reason: &str,
) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let now = Timestamp::now();
    let pending = [OrderStatus::PendingPayment];
    if !store::move_order(&mut tx, order_id, &pending, to, now).await? {
        return Ok(false);
    }
    for part in store::vendor_orders_of(&mut *tx, order_id).await? {
        let change = VendorOrderChange {
            to: VendorOrderStatus::Cancelled,
            tracking_reference: None,
            cancel_reason: Some(reason),
            at: now,
        };
        if store::move_vendor_order(
            &mut tx,
            &part.id,
            VendorOrderStatus::PendingPayment,
            &change,
        )
        .await?
        {
            landlord_events::record(
                &mut *tx,
                &part.vendor_id,
                &MarketplaceOrderCancelledPayload {
                    organization_id: part.vendor_id.clone(),
                    order_id: order_id.clone(),
                    vendor_order_id: part.id.clone(),
                    reason: reason.to_string(),
                },
            )
            .await?;
        }
    }
    for reservation in store::reservations_of(&mut *tx, order_id, None).await? {
        if store::move_reservation(
            &mut tx,
            &reservation.id,
            ReservationStatus::Live,
            ReservationStatus::Released,
            now,
        )
        .await?
        {
            store::release_stock(&mut tx, &reservation.product_id, reservation.quantity, now)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}
