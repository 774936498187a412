//! The vendor's side of an order: confirmed → processing → shipped (with a
//! tracking reference) → delivered, or cancelled before shipping — its
//! stock back, its earnings reversed, the buyer refunded its subtotal
//! through the provider. The order's status follows its vendor orders:
//! none left → cancelled; every live one delivered → delivered; every live
//! one shipped or delivered → shipped; otherwise confirmed.

use crate::events::{MarketplaceOrderCancelledPayload, MarketplaceVendorOrderStatusChangedPayload};
use crate::ids::{LedgerEntryId, MarketplaceOrderId, VendorOrderId};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::store::{
    self, LedgerKind, LedgerRow, OrderRow, OrderStatus, ReservationStatus, VendorOrderChange,
    VendorOrderRow, VendorOrderStatus,
};
use crate::views::{OrderItemView, ShippingAddress, VendorOrderView};
use crate::MarketplaceState;

/// `POST /marketplace/vendor/orders/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `processing`, `shipped`, `delivered` or `cancelled`.
    pub status: VendorOrderStatus,
    /// Required for `shipped`: the carrier's reference.
    #[schema(min_length = 1, max_length = 100)]
    pub tracking_reference: Option<String>,
    /// Why, for `cancelled` (shown to the buyer).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The moves a vendor may make.
fn allowed(from: VendorOrderStatus, to: VendorOrderStatus) -> bool {
    use VendorOrderStatus::*;
    matches!(
        (from, to),
        (Confirmed, Processing)
            | (Processing, Shipped)
            | (Shipped, Delivered)
            | (Confirmed, Cancelled)
            | (Processing, Cancelled)
    )
}

/// What the order's vendor orders make of it.
pub fn order_status(parts: &[VendorOrderStatus]) -> OrderStatus {
    use VendorOrderStatus::*;
    let live: Vec<_> = parts.iter().filter(|s| **s != Cancelled).collect();
    if live.is_empty() {
        OrderStatus::Cancelled
    } else if live.iter().all(|s| **s == Delivered) {
        OrderStatus::Delivered
    } else if live.iter().all(|s| matches!(**s, Shipped | Delivered)) {
        OrderStatus::Shipped
    } else {
        OrderStatus::Confirmed
    }
}

pub async fn vendor_order_view(
    conn: &mut AnyConnection,
    row: VendorOrderRow,
) -> Result<VendorOrderView, ApiError> {
    let items = store::items_of_vendor_order(&mut *conn, &row.id)
        .await?
        .into_iter()
        .map(|item| OrderItemView::new(item, false))
        .collect();
    let shipping = store::order_by_id(&mut *conn, &row.order_id)
        .await?
        .and_then(|order| ShippingAddress::from_column(order.shipping_address.as_deref()));
    Ok(VendorOrderView::new(row, items, shipping))
}

pub async fn own(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    id: &str,
) -> Result<VendorOrderRow, ApiError> {
    let not_found = || ApiError::not_found("vendor order");
    let id = VendorOrderId::parse(id).ok_or_else(not_found)?;
    store::vendor_order(state.db.pool(), vendor_id, &id)
        .await?
        .ok_or_else(not_found)
}

pub async fn change_status(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    id: &str,
    body: StatusRequest,
) -> Result<VendorOrderView, ApiError> {
    let part = own(state, vendor_id, id).await?;
    if let Some(reference) = &body.tracking_reference {
        crate::vendors::check_text("tracking_reference", reference, 1, 100)?;
    }
    if let Some(reason) = &body.reason {
        crate::vendors::check_text("reason", reason, 0, 500)?;
    }
    if body.status == VendorOrderStatus::Shipped && body.tracking_reference.is_none() {
        return Err(ApiError::invalid_field(
            "tracking_reference",
            "is required to mark the order shipped",
        ));
    }
    if !allowed(part.status, body.status) {
        return Err(ApiError::Conflict(format!(
            "status: a {} order cannot become {} (confirmed → processing → shipped → delivered; cancel before shipping)",
            part.status.as_str(),
            body.status.as_str()
        )));
    }
    let db = &state.db;
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let change = VendorOrderChange {
        to: body.status,
        tracking_reference: body.tracking_reference.as_deref(),
        cancel_reason: body.reason.as_deref(),
        at: now,
    };
    if !store::move_vendor_order(&mut tx, &part.id, part.status, &change).await? {
        return Err(ApiError::Conflict(
            "the order changed meanwhile: read it again".into(),
        ));
    }
    landlord_events::record(
        &mut *tx,
        vendor_id,
        &MarketplaceVendorOrderStatusChangedPayload {
            organization_id: vendor_id.clone(),
            order_id: part.order_id.clone(),
            vendor_order_id: part.id.clone(),
            from: part.status.as_str().to_string(),
            to: body.status.as_str().to_string(),
            tracking_reference: body.tracking_reference.clone(),
        },
    )
    .await?;
    if body.status == VendorOrderStatus::Cancelled {
        cancel_paid_part(&mut tx, &part, now).await?;
    }
    follow_parts(&mut tx, &part.order_id, now).await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    let row = own(state, vendor_id, part.id.as_str()).await?;
    let mut conn = db.pool().acquire().await?;
    vendor_order_view(&mut conn, row).await
}

/// A paid vendor order is cancelled: sold stock back, earnings reversed,
/// the buyer refunded its subtotal, the store told.
async fn cancel_paid_part(
    conn: &mut AnyConnection,
    part: &VendorOrderRow,
    now: Timestamp,
) -> Result<(), ApiError> {
    for reservation in store::reservations_of(&mut *conn, &part.order_id, Some(&part.id)).await? {
        if store::move_reservation(
            conn,
            &reservation.id,
            ReservationStatus::Sold,
            ReservationStatus::Returned,
            now,
        )
        .await?
        {
            store::restock(conn, &reservation.product_id, reservation.quantity, now).await?;
        }
    }
    store::insert_ledger_entry(
        conn,
        &LedgerRow {
            id: LedgerEntryId::generate(),
            vendor_id: part.vendor_id.clone(),
            kind: LedgerKind::Reversed,
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
        &MarketplaceOrderCancelledPayload {
            organization_id: part.vendor_id.clone(),
            order_id: part.order_id.clone(),
            vendor_order_id: part.id.clone(),
            reason: "cancelled_by_vendor".into(),
        },
    )
    .await?;
    let order = store::order_by_id(&mut *conn, &part.order_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    let reference = order.payment_reference.clone().unwrap_or_default();
    crate::refunds::queue_refund(
        conn,
        &order,
        &reference,
        part.subtotal,
        &format!("refund_{}", part.id),
        Some(&part.id),
    )
    .await?;
    Ok(())
}

/// The order's status, as its vendor orders make it now.
async fn follow_parts(
    conn: &mut AnyConnection,
    order_id: &MarketplaceOrderId,
    now: Timestamp,
) -> Result<(), ApiError> {
    let parts: Vec<VendorOrderStatus> = store::vendor_orders_of(&mut *conn, order_id)
        .await?
        .into_iter()
        .map(|p| p.status)
        .collect();
    let to = order_status(&parts);
    let from = [
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ];
    store::move_order(conn, order_id, &from, to, now).await?;
    Ok(())
}

/// A buyer cancels an unpaid order: its stock returns.
pub async fn cancel_order(
    state: &MarketplaceState,
    buyer_id: &UserId,
    id: &str,
) -> Result<OrderRow, ApiError> {
    let not_found = || ApiError::not_found("order");
    let id = MarketplaceOrderId::parse(id).ok_or_else(not_found)?;
    let db = &state.db;
    store::buyer_order(db.pool(), buyer_id, &id)
        .await?
        .ok_or_else(not_found)?;
    let released = crate::payment::release(db, &id, OrderStatus::Cancelled, "cancelled_by_buyer")
        .await
        .map_err(ApiError::internal)?;
    if !released {
        return Err(ApiError::Conflict(
            "only an unpaid order can be cancelled here; a paid one is cancelled by its stores"
                .into(),
        ));
    }
    store::buyer_order(db.pool(), buyer_id, &id)
        .await?
        .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use VendorOrderStatus::*;

    #[test]
    fn the_order_follows_its_vendor_orders() {
        assert_eq!(
            order_status(&[Confirmed, Processing]),
            OrderStatus::Confirmed
        );
        assert_eq!(order_status(&[Shipped, Delivered]), OrderStatus::Shipped);
        assert_eq!(
            order_status(&[Delivered, Cancelled]),
            OrderStatus::Delivered
        );
        assert_eq!(
            order_status(&[Cancelled, Cancelled]),
            OrderStatus::Cancelled
        );
        assert_eq!(order_status(&[Shipped, Confirmed]), OrderStatus::Confirmed);
    }

    #[test]
    fn vendors_move_forward_and_cancel_only_before_shipping() {
        assert!(allowed(Confirmed, Processing));
        assert!(allowed(Processing, Shipped));
        assert!(allowed(Shipped, Delivered));
        assert!(allowed(Processing, Cancelled));
        assert!(!allowed(Shipped, Cancelled));
        assert!(!allowed(Delivered, Shipped));
        assert!(!allowed(PendingPayment, Processing));
        assert!(!allowed(Confirmed, Delivered));
    }
}
