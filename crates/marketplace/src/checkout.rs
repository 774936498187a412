//! Checkout: the cart becomes one order, one item per line (its price
//! captured), one vendor order per store (subtotal, fee, earnings), and one
//! stock reservation per product — quantities summed across the cart's
//! lines — all in one transaction.
//!
//! Each reservation is a conditional update (`reserved + n ≤ stock`), taken
//! in product-id order: on PostgreSQL the row lock makes a concurrent
//! checkout wait and re-check, and the fixed order rules out deadlocks;
//! SQLite has one writer. However many checkouts race, the stock held
//! never exceeds the stock; the ones that find too little are refused with
//! 409 and change nothing. The payment starts after the commit, and the
//! cart empties once it has.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::events::MarketplaceOrderCreatedPayload;
use crate::ids::{MarketplaceOrderId, OrderItemId, ProductId, ReservationId, VendorOrderId};
use landlord_core::http::request_id::current_request_id;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use serde::Deserialize;
use sqlx::AnyConnection;
use utoipa::ToSchema;

use crate::config::MarketplaceConfig;
use crate::money;
use crate::provider::ProviderError;
use crate::store::{
    self, OrderItemRow, OrderRow, OrderStatus, PayoutProvider, ProductRow, ProductStatus,
    ReservationRow, ReservationStatus, VendorOrderRow, VendorOrderStatus, VendorStatus,
};
use crate::views::{OrderItemView, OrderPartView, OrderView, ShippingAddress, StoreRef};
use crate::MarketplaceState;

/// `POST /marketplace/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub provider: PayoutProvider,
    /// Stripe only: a hosted Checkout page (`payment.url`) instead of a
    /// PaymentIntent's client secret for Stripe.js.
    #[serde(default)]
    pub hosted: bool,
    /// Where the stores send the items; each store sees it with its part.
    pub shipping: Option<ShippingAddress>,
}

fn check_shipping(address: &ShippingAddress) -> Result<(), ApiError> {
    use crate::vendors::check_text;
    check_text("shipping.name", &address.name, 1, 100)?;
    check_text("shipping.line1", &address.line1, 1, 200)?;
    if let Some(line2) = &address.line2 {
        check_text("shipping.line2", line2, 0, 200)?;
    }
    check_text("shipping.city", &address.city, 1, 100)?;
    if let Some(code) = &address.postal_code {
        check_text("shipping.postal_code", code, 0, 20)?;
    }
    if address.country.len() != 2 || !address.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid_field(
            "shipping.country",
            "must be an ISO 3166-1 alpha-2 code in upper case (NG)",
        ));
    }
    Ok(())
}

pub async fn checkout(
    state: &MarketplaceState,
    buyer_id: &UserId,
    body: CheckoutRequest,
) -> Result<OrderView, ApiError> {
    if let Some(address) = &body.shipping {
        check_shipping(address)?;
    }
    if !state.client.configured(body.provider) {
        return Err(ApiError::invalid_field(
            "provider",
            format!(
                "{} is not configured on this server",
                body.provider.as_str()
            ),
        ));
    }
    let db = &state.db;
    let buyer = identity_store::user_by_id(db.pool(), buyer_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    let mut tx = db.begin().await?;
    let shipping = match &body.shipping {
        Some(address) => Some(serde_json::to_string(address).map_err(ApiError::internal)?),
        None => None,
    };
    let order = place(state, &mut tx, buyer_id, body.provider, shipping).await?;
    tx.commit().await?;

    match state
        .client
        .start_payment(&order, &buyer.email, body.hosted)
        .await
    {
        Ok(payment) => {
            let mut tx = db.begin().await?;
            store::set_payment(
                &mut *tx,
                &order.id,
                &payment.reference,
                payment.client_secret.as_deref(),
                payment.url.as_deref(),
            )
            .await?;
            store::clear_cart(&mut *tx, buyer_id).await?;
            tx.commit().await?;
        }
        Err(error) => {
            // The provider's own words (its URL, its error) stay in the
            // log under the request's id; the buyer reads a sentence and
            // that id, to quote.
            let reference = current_request_id().unwrap_or_else(|| order.id.to_string());
            tracing::warn!(order = %order.id, request_id = %reference, %error, "the payment could not be started");
            // Nothing was charged: give the stock back, keep the cart.
            crate::payment::release(db, &order.id, OrderStatus::Cancelled, "payment_not_started")
                .await
                .map_err(ApiError::internal)?;
            return Err(match error {
                ProviderError::NotConfigured(name) => ApiError::invalid_field(
                    "provider",
                    format!("{name} is not configured on this server"),
                ),
                ProviderError::Declined(_) | ProviderError::NotFound(_) => ApiError::invalid_field(
                    "provider",
                    format!(
                        "the payment provider refused to start this payment; nothing was \
                             charged. Choose another way to pay, or quote the reference \
                             {reference} if you contact us"
                    ),
                ),
                ProviderError::Unavailable(_) => ApiError::ServiceUnavailable {
                    message: format!(
                        "The payment provider could not be reached; nothing was charged. \
                         Try again in a few minutes. Your cart is kept. Reference: {reference}"
                    ),
                    details: None,
                },
            });
        }
    }
    let row = store::order_by_id(db.pool(), &order.id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    let mut conn = db.pool().acquire().await?;
    order_view(&mut conn, row, true).await
}

/// The order, its items, vendor orders and reservations, in `tx`.
async fn place(
    state: &MarketplaceState,
    tx: &mut AnyConnection,
    buyer_id: &UserId,
    provider: PayoutProvider,
    shipping_address: Option<String>,
) -> Result<OrderRow, ApiError> {
    let lines = store::cart_lines(&mut *tx, buyer_id).await?;
    if lines.is_empty() {
        return Err(ApiError::invalid_field("cart", "is empty"));
    }
    // Quantities summed per product: two lines of one product are checked
    // against its stock together. BTreeMap: reservations in id order.
    let mut wanted: BTreeMap<ProductId, i64> = BTreeMap::new();
    for line in &lines {
        *wanted.entry(line.product_id.clone()).or_default() += line.quantity;
    }
    let ids: Vec<ProductId> = wanted.keys().cloned().collect();
    let products = store::products_by_ids(tx, &ids).await?;
    let product = |id: &ProductId| products.iter().find(|p| &p.id == id);
    let currency = products
        .first()
        .map(|p| p.currency.clone())
        .unwrap_or_default();
    if products.iter().any(|p| p.currency != currency) {
        return Err(ApiError::invalid_field(
            "cart",
            "holds products in more than one currency: one order has one currency",
        ));
    }
    let mut vendors: BTreeMap<OrganizationId, u32> = BTreeMap::new();
    for id in &ids {
        let Some(p) = product(id) else {
            return Err(ApiError::Conflict(
                "a product in your cart no longer exists: remove it and check out again".into(),
            ));
        };
        let vendor = store::vendor(&mut *tx, &p.vendor_id).await?;
        if p.status != ProductStatus::Active
            || vendor.is_none_or(|v| v.status != VendorStatus::Approved)
        {
            return Err(ApiError::Conflict(format!(
                "{} is no longer for sale: remove it and check out again",
                p.title
            )));
        }
        if !vendors.contains_key(&p.vendor_id) {
            let bps = crate::vendors::fee_bps(state, tx, &p.vendor_id).await?;
            vendors.insert(p.vendor_id.clone(), bps);
        }
    }

    let now = Timestamp::now();
    let order_id = MarketplaceOrderId::generate();
    // One vendor order per store, its subtotal the sum of its lines.
    let mut parts: BTreeMap<OrganizationId, VendorOrderRow> = BTreeMap::new();
    for line in &lines {
        let Some(p) = product(&line.product_id) else {
            continue;
        };
        let part = parts
            .entry(p.vendor_id.clone())
            .or_insert_with(|| VendorOrderRow {
                id: VendorOrderId::generate(),
                order_id: order_id.clone(),
                vendor_id: p.vendor_id.clone(),
                status: VendorOrderStatus::PendingPayment,
                subtotal: 0,
                fee_bps: i64::from(vendors.get(&p.vendor_id).copied().unwrap_or(0)),
                fee: 0,
                earnings: 0,
                currency: currency.clone(),
                tracking_reference: None,
                cancel_reason: None,
                refund_reference: None,
                payout_id: None,
                delivered_at: None,
                created_at: now,
                updated_at: now,
            });
        part.subtotal += p.price * line.quantity;
    }
    for part in parts.values_mut() {
        let (fee, earnings) = money::split(part.subtotal, part.fee_bps as u32);
        part.fee = fee;
        part.earnings = earnings;
    }
    let ttl = Duration::from_secs(
        state
            .config
            .section::<MarketplaceConfig>()
            .reservation_ttl_secs,
    );
    let order = OrderRow {
        id: order_id.clone(),
        buyer_id: buyer_id.clone(),
        status: OrderStatus::PendingPayment,
        total: parts.values().map(|p| p.subtotal).sum(),
        fee_total: parts.values().map(|p| p.fee).sum(),
        currency,
        provider,
        payment_reference: None,
        client_secret: None,
        payment_url: None,
        shipping_address,
        expires_at: now.plus(ttl),
        paid_at: None,
        cancelled_at: None,
        created_at: now,
        updated_at: now,
    };

    // Stock first: the refusal should cost nothing else.
    let mut shortages = Vec::new();
    for (id, quantity) in &wanted {
        if !store::reserve_stock(tx, id, *quantity, now).await? {
            // Read again: what the update saw, not what this checkout
            // read before it (another may have reserved since).
            let fresh = store::products_by_ids(tx, std::slice::from_ref(id)).await?;
            let (title, available) = fresh.first().map_or((String::new(), 0), |p| {
                (p.title.clone(), (p.stock - p.reserved).max(0))
            });
            shortages.push(format!(
                "{title} (requested {quantity}, available {available})"
            ));
        }
    }
    if !shortages.is_empty() {
        // The caller drops the transaction: nothing of this checkout stays.
        return Err(ApiError::Conflict(format!(
            "not enough stock: {}",
            shortages.join("; ")
        )));
    }
    PlacedOrder {
        order,
        parts,
        wanted,
        lines,
        products,
    }
    .write(tx)
    .await
}

/// Everything checkout decided, to write.
struct PlacedOrder {
    order: OrderRow,
    parts: BTreeMap<OrganizationId, VendorOrderRow>,
    wanted: BTreeMap<ProductId, i64>,
    lines: Vec<store::CartLineRow>,
    products: Vec<ProductRow>,
}

impl PlacedOrder {
    async fn write(self, tx: &mut AnyConnection) -> Result<OrderRow, ApiError> {
        let PlacedOrder {
            mut order,
            parts,
            wanted,
            lines,
            products,
        } = self;
        let now = order.created_at;
        store::insert_order(&mut *tx, &order).await?;
        for part in parts.values() {
            store::insert_vendor_order(&mut *tx, part).await?;
        }
        for line in &lines {
            let Some(p) = products.iter().find(|p| p.id == line.product_id) else {
                continue;
            };
            let Some(part) = parts.get(&p.vendor_id) else {
                continue;
            };
            store::insert_item(
                &mut *tx,
                &OrderItemRow {
                    id: OrderItemId::generate(),
                    order_id: order.id.clone(),
                    vendor_order_id: part.id.clone(),
                    product_id: p.id.clone(),
                    title: p.title.clone(),
                    unit_price: p.price,
                    quantity: line.quantity,
                    line_total: p.price * line.quantity,
                    created_at: now,
                },
            )
            .await?;
        }
        for (id, quantity) in &wanted {
            let Some(part) = products
                .iter()
                .find(|p| &p.id == id)
                .and_then(|p| parts.get(&p.vendor_id))
            else {
                continue;
            };
            store::insert_reservation(
                &mut *tx,
                &ReservationRow {
                    id: ReservationId::generate(),
                    order_id: order.id.clone(),
                    vendor_order_id: part.id.clone(),
                    product_id: id.clone(),
                    quantity: *quantity,
                    status: ReservationStatus::Live,
                },
                now,
            )
            .await?;
        }
        for part in parts.values() {
            let units = lines
                .iter()
                .filter(|l| {
                    products
                        .iter()
                        .any(|p| p.id == l.product_id && p.vendor_id == part.vendor_id)
                })
                .map(|l| l.quantity)
                .sum();
            landlord_events::record(
                &mut *tx,
                &part.vendor_id,
                &MarketplaceOrderCreatedPayload {
                    organization_id: part.vendor_id.clone(),
                    order_id: order.id.clone(),
                    vendor_order_id: part.id.clone(),
                    subtotal: part.subtotal,
                    fee: part.fee,
                    earnings: part.earnings,
                    currency: part.currency.clone(),
                    units,
                },
            )
            .await?;
        }
        order.updated_at = now;
        Ok(order)
    }
}

/// An order with its items and parts, as its buyer sees it.
pub async fn order_view(
    conn: &mut AnyConnection,
    row: OrderRow,
    with_secret: bool,
) -> Result<OrderView, ApiError> {
    let reviewed = store::reviewed_items(&mut *conn, &row.buyer_id).await?;
    let items = store::items_of(&mut *conn, &row.id)
        .await?
        .into_iter()
        .map(|item| {
            let done = reviewed.contains(&item.id);
            OrderItemView::new(item, done)
        })
        .collect();
    let mut parts = Vec::new();
    for part in store::vendor_orders_of(&mut *conn, &row.id).await? {
        let vendor = store::vendor(&mut *conn, &part.vendor_id).await?;
        parts.push(OrderPartView {
            id: part.id,
            vendor: StoreRef {
                organization_id: part.vendor_id,
                store_name: vendor
                    .as_ref()
                    .map(|v| v.store_name.clone())
                    .unwrap_or_default(),
                slug: vendor.map(|v| v.slug).unwrap_or_default(),
            },
            status: part.status,
            subtotal: part.subtotal,
            tracking_reference: part.tracking_reference,
            delivered_at: part.delivered_at,
        });
    }
    Ok(OrderView::new(row, items, parts, with_secret))
}
