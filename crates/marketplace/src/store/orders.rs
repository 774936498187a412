use crate::ids::{
    CartLineId, MarketplaceOrderId, OrderItemId, PayoutId, ProductId, ReservationId, VendorOrderId,
};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use super::{OrderStatus, PayoutProvider, ReservationStatus, VendorOrderStatus};

// ---- carts ---------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartLineRow {
    pub id: CartLineId,
    pub user_id: UserId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub created_at: Timestamp,
}

pub async fn insert_cart_line<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &CartLineRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO marketplace_cart_lines (id, user_id, product_id, quantity, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&row.id)
    .bind(&row.user_id)
    .bind(&row.product_id)
    .bind(row.quantity)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// A buyer's cart, oldest line first.
pub async fn cart_lines<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<Vec<CartLineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, product_id, quantity, created_at FROM marketplace_cart_lines \
         WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user_id)
    .fetch_all(executor)
    .await
}

/// How many lines a cart holds.
pub async fn cart_size<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM marketplace_cart_lines WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(executor)
        .await
}

pub async fn set_cart_quantity<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    id: &CartLineId,
    quantity: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_cart_lines SET quantity = $1 WHERE id = $2 AND user_id = $3",
    )
    .bind(quantity)
    .bind(id)
    .bind(user_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_cart_line<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    id: &CartLineId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM marketplace_cart_lines WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Empties a cart (checkout took it); returns the lines removed.
pub async fn clear_cart<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM marketplace_cart_lines WHERE user_id = $1")
        .bind(user_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

// ---- orders --------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub id: MarketplaceOrderId,
    pub buyer_id: UserId,
    pub status: OrderStatus,
    pub total: i64,
    pub fee_total: i64,
    pub currency: String,
    pub provider: PayoutProvider,
    pub payment_reference: Option<String>,
    pub client_secret: Option<String>,
    pub payment_url: Option<String>,
    /// JSON of the buyer's shipping address, when given.
    pub shipping_address: Option<String>,
    pub expires_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ORDER_COLUMNS: &str = "id, buyer_id, status, total, fee_total, currency, provider, \
     payment_reference, client_secret, payment_url, shipping_address, expires_at, paid_at, \
     cancelled_at, created_at, updated_at";

pub async fn insert_order<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &OrderRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO marketplace_orders ({ORDER_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL, $10, $8, NULL, NULL, $9, $9)"
    ))
    .bind(&row.id)
    .bind(&row.buyer_id)
    .bind(row.status)
    .bind(row.total)
    .bind(row.fee_total)
    .bind(&row.currency)
    .bind(row.provider)
    .bind(row.expires_at)
    .bind(row.created_at)
    .bind(&row.shipping_address)
    .execute(executor)
    .await?;
    Ok(())
}

/// A buyer's own order.
pub async fn buyer_order<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    buyer_id: &UserId,
    id: &MarketplaceOrderId,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM marketplace_orders WHERE id = $1 AND buyer_id = $2"
    ))
    .bind(id)
    .bind(buyer_id)
    .fetch_optional(executor)
    .await
}

/// An order by id alone (payment webhooks and jobs name it).
pub async fn order_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MarketplaceOrderId,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM marketplace_orders WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A buyer's orders, newest first.
pub async fn buyer_orders<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    buyer_id: &UserId,
    before: Option<&MarketplaceOrderId>,
    limit: i64,
) -> Result<Vec<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM marketplace_orders WHERE buyer_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(buyer_id)
    .bind(before.map_or("", MarketplaceOrderId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Records where the buyer pays.
pub async fn set_payment<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MarketplaceOrderId,
    reference: &str,
    client_secret: Option<&str>,
    url: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE marketplace_orders SET payment_reference = $1, client_secret = $2, \
         payment_url = $3 WHERE id = $4",
    )
    .bind(reference)
    .bind(client_secret)
    .bind(url)
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}

/// The payment that settled the order (a PaymentIntent id for Stripe,
/// whichever flow started it): refunds name it.
pub async fn set_paid_reference<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MarketplaceOrderId,
    reference: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE marketplace_orders SET payment_reference = $1 WHERE id = $2")
        .bind(reference)
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Moves an order from `from` to `to`; false when it is not in `from`
/// (another event decided first).
pub async fn move_order(
    conn: &mut AnyConnection,
    id: &MarketplaceOrderId,
    from: &[OrderStatus],
    to: OrderStatus,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let paid_at = (to == OrderStatus::Confirmed).then_some(at);
    let cancelled_at = matches!(to, OrderStatus::Cancelled | OrderStatus::Expired).then_some(at);
    let done = sqlx::query(
        "UPDATE marketplace_orders SET status = $1, updated_at = $2, \
         paid_at = COALESCE(paid_at, $3), cancelled_at = COALESCE(cancelled_at, $4) \
         WHERE id = $5 AND status IN ($6, $7, $8, $9)",
    )
    .bind(to)
    .bind(at)
    .bind(paid_at)
    .bind(cancelled_at)
    .bind(id)
    .bind(from.first().copied().unwrap_or(""))
    .bind(from.get(1).copied().unwrap_or(""))
    .bind(from.get(2).copied().unwrap_or(""))
    .bind(from.get(3).copied().unwrap_or(""))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unpaid orders whose time ran out, oldest first.
pub async fn expired_orders<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    now: Timestamp,
    limit: i64,
) -> Result<Vec<MarketplaceOrderId>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM marketplace_orders WHERE status = 'pending_payment' AND expires_at <= $1 \
         ORDER BY expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(executor)
    .await
}

// ---- vendor orders -------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VendorOrderRow {
    pub id: VendorOrderId,
    pub order_id: MarketplaceOrderId,
    pub vendor_id: OrganizationId,
    pub status: VendorOrderStatus,
    pub subtotal: i64,
    pub fee_bps: i64,
    pub fee: i64,
    pub earnings: i64,
    pub currency: String,
    pub tracking_reference: Option<String>,
    pub cancel_reason: Option<String>,
    pub refund_reference: Option<String>,
    pub payout_id: Option<PayoutId>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const VENDOR_ORDER_COLUMNS: &str = "id, order_id, vendor_id, status, subtotal, fee_bps, fee, \
     earnings, currency, tracking_reference, cancel_reason, refund_reference, payout_id, \
     delivered_at, created_at, updated_at";

pub async fn insert_vendor_order<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &VendorOrderRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO marketplace_vendor_orders ({VENDOR_ORDER_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL, NULL, $10, $10)"
    ))
    .bind(&row.id)
    .bind(&row.order_id)
    .bind(&row.vendor_id)
    .bind(row.status)
    .bind(row.subtotal)
    .bind(row.fee_bps)
    .bind(row.fee)
    .bind(row.earnings)
    .bind(&row.currency)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// An order's vendor orders.
pub async fn vendor_orders_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    order_id: &MarketplaceOrderId,
) -> Result<Vec<VendorOrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_ORDER_COLUMNS} FROM marketplace_vendor_orders WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(executor)
    .await
}

/// A vendor's own vendor order.
pub async fn vendor_order<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    id: &VendorOrderId,
) -> Result<Option<VendorOrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_ORDER_COLUMNS} FROM marketplace_vendor_orders WHERE id = $1 AND vendor_id = $2"
    ))
    .bind(id)
    .bind(vendor_id)
    .fetch_optional(executor)
    .await
}

/// A vendor's vendor orders, newest first; paid ones only unless `status`
/// asks for `pending_payment`. An order that was never paid (its payment
/// never started or never arrived, whatever became of it) is not the
/// store's sale: its cancelled parts are left out too.
pub async fn vendor_orders<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    status: Option<VendorOrderStatus>,
    before: Option<&VendorOrderId>,
    limit: i64,
) -> Result<Vec<VendorOrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_ORDER_COLUMNS} FROM marketplace_vendor_orders WHERE vendor_id = $1 \
         AND (($2 = '' AND status <> 'pending_payment') OR status = $2) \
         AND (status = 'pending_payment' OR EXISTS (SELECT 1 FROM marketplace_orders o \
              WHERE o.id = marketplace_vendor_orders.order_id AND o.paid_at IS NOT NULL)) \
         AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(vendor_id)
    .bind(status.map_or("", VendorOrderStatus::as_str))
    .bind(before.map_or("", VendorOrderId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The fields a status change writes.
pub struct VendorOrderChange<'a> {
    pub to: VendorOrderStatus,
    pub tracking_reference: Option<&'a str>,
    pub cancel_reason: Option<&'a str>,
    pub at: Timestamp,
}

/// Moves a vendor order from `from`; false when it was not there (a
/// concurrent change won).
pub async fn move_vendor_order(
    conn: &mut AnyConnection,
    id: &VendorOrderId,
    from: VendorOrderStatus,
    change: &VendorOrderChange<'_>,
) -> Result<bool, sqlx::Error> {
    let delivered_at = (change.to == VendorOrderStatus::Delivered).then_some(change.at);
    let done = sqlx::query(
        "UPDATE marketplace_vendor_orders SET status = $1, \
         tracking_reference = COALESCE($2, tracking_reference), \
         cancel_reason = COALESCE($3, cancel_reason), delivered_at = COALESCE($4, delivered_at), \
         updated_at = $5 WHERE id = $6 AND status = $7",
    )
    .bind(change.to)
    .bind(change.tracking_reference)
    .bind(change.cancel_reason)
    .bind(delivered_at)
    .bind(change.at)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_refund_reference<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &VendorOrderId,
    reference: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE marketplace_vendor_orders SET refund_reference = $1 WHERE id = $2")
        .bind(reference)
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Vendor orders delivered before `cutoff` that no payout holds yet.
pub async fn payable_vendor_orders<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    cutoff: Timestamp,
    limit: i64,
) -> Result<Vec<VendorOrderRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {VENDOR_ORDER_COLUMNS} FROM marketplace_vendor_orders \
         WHERE status = 'delivered' AND payout_id IS NULL AND delivered_at <= $1 \
         ORDER BY vendor_id, currency, id LIMIT $2"
    ))
    .bind(cutoff)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Puts a vendor order in a payout; false when another payout took it.
pub async fn assign_payout(
    conn: &mut AnyConnection,
    id: &VendorOrderId,
    payout_id: &PayoutId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_vendor_orders SET payout_id = $1 WHERE id = $2 AND payout_id IS NULL",
    )
    .bind(payout_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- items and reservations ----------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderItemRow {
    pub id: OrderItemId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub product_id: ProductId,
    pub title: String,
    pub unit_price: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub created_at: Timestamp,
}

const ITEM_COLUMNS: &str = "id, order_id, vendor_order_id, product_id, title, unit_price, \
     quantity, line_total, created_at";

pub async fn insert_item<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &OrderItemRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO marketplace_order_items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&row.id)
    .bind(&row.order_id)
    .bind(&row.vendor_order_id)
    .bind(&row.product_id)
    .bind(&row.title)
    .bind(row.unit_price)
    .bind(row.quantity)
    .bind(row.line_total)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn items_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    order_id: &MarketplaceOrderId,
) -> Result<Vec<OrderItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM marketplace_order_items WHERE order_id = $1 ORDER BY id"
    ))
    .bind(order_id)
    .fetch_all(executor)
    .await
}

pub async fn items_of_vendor_order<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_order_id: &VendorOrderId,
) -> Result<Vec<OrderItemRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM marketplace_order_items WHERE vendor_order_id = $1 ORDER BY id"
    ))
    .bind(vendor_order_id)
    .fetch_all(executor)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReservationRow {
    pub id: ReservationId,
    pub order_id: MarketplaceOrderId,
    pub vendor_order_id: VendorOrderId,
    pub product_id: ProductId,
    pub quantity: i64,
    pub status: ReservationStatus,
}

pub async fn insert_reservation<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &ReservationRow,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO marketplace_reservations (id, order_id, vendor_order_id, product_id, \
         quantity, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&row.id)
    .bind(&row.order_id)
    .bind(&row.vendor_order_id)
    .bind(&row.product_id)
    .bind(row.quantity)
    .bind(row.status)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(())
}

/// An order's reservations (of one vendor order when given).
pub async fn reservations_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    order_id: &MarketplaceOrderId,
    vendor_order_id: Option<&VendorOrderId>,
) -> Result<Vec<ReservationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, order_id, vendor_order_id, product_id, quantity, status \
         FROM marketplace_reservations WHERE order_id = $1 \
         AND ($2 = '' OR vendor_order_id = $2) ORDER BY product_id",
    )
    .bind(order_id)
    .bind(vendor_order_id.map_or("", VendorOrderId::as_str))
    .fetch_all(executor)
    .await
}

/// Moves a reservation from `from` to `to`; false when it was not in
/// `from` (so stock moves once per reservation, whatever races).
pub async fn move_reservation(
    conn: &mut AnyConnection,
    id: &ReservationId,
    from: ReservationStatus,
    to: ReservationStatus,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_reservations SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to)
    .bind(at)
    .bind(id)
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- figures -------------------------------------------------------------------------

/// Orders by status.
pub async fn order_counts<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<Vec<(OrderStatus, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, COUNT(*) FROM marketplace_orders GROUP BY status ORDER BY status",
    )
    .fetch_all(executor)
    .await
}

/// Per currency: gross volume of paid orders, fees of their live vendor
/// orders, refunds of cancelled paid vendor orders.
pub async fn money_figures<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<Vec<(String, i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT vo.currency, CAST(COALESCE(SUM(vo.subtotal), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN vo.status <> 'cancelled' THEN vo.fee ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN vo.status = 'cancelled' THEN vo.subtotal ELSE 0 END), 0) AS BIGINT) \
         FROM marketplace_vendor_orders vo JOIN marketplace_orders o ON o.id = vo.order_id \
         WHERE o.paid_at IS NOT NULL GROUP BY vo.currency ORDER BY vo.currency",
    )
    .fetch_all(executor)
    .await
}
