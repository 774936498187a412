//! The marketplace's events: each payload (what a receiver needs, with typed
//! ids) and its type, which the binary adds to the event catalog after the
//! core's ([`EVENT_TYPES`]).

use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use landlord_events::EventType;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{MarketplaceOrderId, OrderItemId, PayoutId, ProductId, ReviewId, VendorOrderId};

/// `marketplace.order.created`: sent to each store with a part in the order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderCreatedPayload {
    /// The store (vendor organization).
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    /// This store's part: items' total, the platform fee, the store's earnings.
    pub subtotal: i64,
    pub fee: i64,
    pub earnings: i64,
    pub currency: String,
    /// Units across this store's items.
    pub units: i64,
}
landlord_events::event_type!(
    pub const ORDER_CREATED: MarketplaceOrderCreatedPayload = (
        "marketplace.order.created",
        1,
        "Marketplace: a buyer checked out an order with a part from this store (stock is \
         reserved until it is paid).",
    )
);

/// `marketplace.order.paid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderPaidPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub subtotal: i64,
    pub currency: String,
    pub paid_at: Timestamp,
}
landlord_events::event_type!(
    pub const ORDER_PAID: MarketplaceOrderPaidPayload = (
        "marketplace.order.paid",
        1,
        "Marketplace: the order with a part from this store was paid (confirmed by the \
         provider's webhook).",
    )
);

/// `marketplace.order.cancelled`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceOrderCancelledPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    /// `expired`, `payment_failed`, `cancelled_by_buyer` or `cancelled_by_vendor`.
    pub reason: String,
}
landlord_events::event_type!(
    pub const ORDER_CANCELLED: MarketplaceOrderCancelledPayload = (
        "marketplace.order.cancelled",
        1,
        "Marketplace: this store's part of an order was cancelled (by the buyer, by the \
         store, for a failed payment, or expired unpaid).",
    )
);

/// `marketplace.vendor_order.status_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceVendorOrderStatusChangedPayload {
    pub organization_id: OrganizationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub from: String,
    pub to: String,
    pub tracking_reference: Option<String>,
}
landlord_events::event_type!(
    pub const VENDOR_ORDER_STATUS_CHANGED: MarketplaceVendorOrderStatusChangedPayload = (
        "marketplace.vendor_order.status_changed",
        1,
        "Marketplace: this store's part of an order moved on (processing, shipped, \
         delivered, cancelled).",
    )
);

/// `marketplace.payout.paid`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplacePayoutPaidPayload {
    pub organization_id: OrganizationId,
    pub payout_id: PayoutId,
    pub amount: i64,
    pub currency: String,
    /// `stripe` or `paystack`.
    pub provider: String,
    /// The provider's transfer id (`tr_…`) or code (`TRF_…`).
    pub transfer_reference: String,
}
landlord_events::event_type!(
    pub const PAYOUT_PAID: MarketplacePayoutPaidPayload = (
        "marketplace.payout.paid",
        1,
        "Marketplace: a payout of this store's earnings was transferred.",
    )
);

/// `marketplace.payout.failed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplacePayoutFailedPayload {
    pub organization_id: OrganizationId,
    pub payout_id: PayoutId,
    pub amount: i64,
    pub currency: String,
    pub provider: String,
    /// What the provider answered.
    pub error: String,
}
landlord_events::event_type!(
    pub const PAYOUT_FAILED: MarketplacePayoutFailedPayload = (
        "marketplace.payout.failed",
        1,
        "Marketplace: a payout could not be transferred after its retries (an operator \
         can retry it).",
    )
);

/// `marketplace.review.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MarketplaceReviewCreatedPayload {
    pub organization_id: OrganizationId,
    pub review_id: ReviewId,
    pub product_id: ProductId,
    pub order_item_id: OrderItemId,
    /// 1 to 5.
    pub rating: i64,
}
landlord_events::event_type!(
    pub const REVIEW_CREATED: MarketplaceReviewCreatedPayload = (
        "marketplace.review.created",
        1,
        "Marketplace: a buyer reviewed a product of this store.",
    )
);

/// The marketplace's types, in the catalog's order.
pub const EVENT_TYPES: &[EventType] = &[
    ORDER_CREATED,
    ORDER_PAID,
    ORDER_CANCELLED,
    VENDOR_ORDER_STATUS_CHANGED,
    PAYOUT_PAID,
    PAYOUT_FAILED,
    REVIEW_CREATED,
];
