//! Reviews: a buyer rates an order item's product — and so its store —
//! once, after its vendor order is delivered. Ratings are kept as sums and
//! counts beside the product and the store, updated in the same
//! transaction. The store may reply.

use crate::events::MarketplaceReviewCreatedPayload;
use crate::ids::{MarketplaceOrderId, OrderItemId, ReviewId};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::store::{self, ReviewRow, VendorOrderStatus};
use crate::vendors::check_text;
use crate::views::ReviewView;
use crate::MarketplaceState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 1 (poor) to 5 (excellent): for the product and its store.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    #[schema(max_length = 2000)]
    pub text: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
}

pub async fn create(
    state: &MarketplaceState,
    buyer_id: &UserId,
    order_id: &str,
    item_id: &str,
    body: ReviewRequest,
) -> Result<ReviewView, ApiError> {
    if !(1..=5).contains(&body.rating) {
        return Err(ApiError::invalid_field("rating", "must be between 1 and 5"));
    }
    let text = body.text.unwrap_or_default();
    check_text("text", &text, 0, 2000)?;
    let not_found = || ApiError::not_found("order item");
    let order_id = MarketplaceOrderId::parse(order_id).ok_or_else(not_found)?;
    let item_id = OrderItemId::parse(item_id).ok_or_else(not_found)?;
    let db = &state.db;
    let mut tx = db.begin().await?;
    store::buyer_order(&mut *tx, buyer_id, &order_id)
        .await?
        .ok_or_else(not_found)?;
    let item = store::items_of(&mut *tx, &order_id)
        .await?
        .into_iter()
        .find(|i| i.id == item_id)
        .ok_or_else(not_found)?;
    let part = store::vendor_orders_of(&mut *tx, &order_id)
        .await?
        .into_iter()
        .find(|p| p.id == item.vendor_order_id)
        .ok_or_else(not_found)?;
    if part.status != VendorOrderStatus::Delivered {
        return Err(ApiError::Conflict(format!(
            "this item can be reviewed once it is delivered (it is {})",
            part.status.as_str()
        )));
    }
    let row = ReviewRow {
        id: ReviewId::generate(),
        order_item_id: item.id.clone(),
        product_id: item.product_id.clone(),
        vendor_id: part.vendor_id.clone(),
        buyer_id: buyer_id.clone(),
        rating: body.rating,
        text,
        reply: None,
        replied_at: None,
        created_at: Timestamp::now(),
    };
    if !store::insert_review(&mut *tx, &row).await? {
        return Err(ApiError::Conflict(
            "this order item has a review already: one review per item".into(),
        ));
    }
    store::add_rating(&mut tx, &row.product_id, &row.vendor_id, row.rating).await?;
    landlord_events::record(
        &mut *tx,
        &row.vendor_id,
        &MarketplaceReviewCreatedPayload {
            organization_id: row.vendor_id.clone(),
            review_id: row.id.clone(),
            product_id: row.product_id.clone(),
            order_item_id: row.order_item_id.clone(),
            rating: row.rating,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ReviewView::new(row))
}

pub async fn reply(
    state: &MarketplaceState,
    vendor_id: &OrganizationId,
    id: &str,
    body: ReplyRequest,
) -> Result<ReviewView, ApiError> {
    check_text("text", &body.text, 1, 2000)?;
    let not_found = || ApiError::not_found("review");
    let id = ReviewId::parse(id).ok_or_else(not_found)?;
    let db = &state.db;
    if !store::set_reply(
        db.pool(),
        vendor_id,
        &id,
        body.text.trim(),
        Timestamp::now(),
    )
    .await?
    {
        return Err(not_found());
    }
    let row = store::vendor_review(db.pool(), vendor_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ReviewView::new(row))
}
