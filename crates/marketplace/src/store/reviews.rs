use crate::ids::{OrderItemId, ProductId, ReviewId};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: ReviewId,
    pub order_item_id: OrderItemId,
    pub product_id: ProductId,
    pub vendor_id: OrganizationId,
    pub buyer_id: UserId,
    pub rating: i64,
    pub text: String,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const REVIEW_COLUMNS: &str = "id, order_item_id, product_id, vendor_id, buyer_id, rating, text, \
     reply, replied_at, created_at";

/// Adds a review; false when its order item has one already.
pub async fn insert_review<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &ReviewRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO marketplace_reviews ({REVIEW_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8) ON CONFLICT DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.order_item_id)
    .bind(&row.product_id)
    .bind(&row.vendor_id)
    .bind(&row.buyer_id)
    .bind(row.rating)
    .bind(&row.text)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Order items of `items` that have a review.
pub async fn reviewed_items<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    buyer_id: &UserId,
) -> Result<Vec<OrderItemId>, sqlx::Error> {
    sqlx::query_scalar("SELECT order_item_id FROM marketplace_reviews WHERE buyer_id = $1")
        .bind(buyer_id)
        .fetch_all(executor)
        .await
}

/// A product's reviews (or a vendor's), newest first.
pub async fn reviews<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    product_id: Option<&ProductId>,
    vendor_id: Option<&OrganizationId>,
    before: Option<&ReviewId>,
    limit: i64,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM marketplace_reviews WHERE ($1 = '' OR product_id = $1) \
         AND ($2 = '' OR vendor_id = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
    ))
    .bind(product_id.map_or("", ProductId::as_str))
    .bind(vendor_id.map_or("", OrganizationId::as_str))
    .bind(before.map_or("", ReviewId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

pub async fn vendor_review<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    id: &ReviewId,
) -> Result<Option<ReviewRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {REVIEW_COLUMNS} FROM marketplace_reviews WHERE id = $1 AND vendor_id = $2"
    ))
    .bind(id)
    .bind(vendor_id)
    .fetch_optional(executor)
    .await
}

/// The vendor's reply (replacing an earlier one).
pub async fn set_reply<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    vendor_id: &OrganizationId,
    id: &ReviewId,
    reply: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE marketplace_reviews SET reply = $1, replied_at = $2 WHERE id = $3 AND vendor_id = $4",
    )
    .bind(reply)
    .bind(at)
    .bind(id)
    .bind(vendor_id)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
