//! `/marketplace/cart…`, `/marketplace/checkout`, `/marketplace/orders…`:
//! a signed-in person buying.

use crate::ids::MarketplaceOrderId;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::idempotency::{idempotent, Scope};
use landlord_core::ApiError;
use landlord_identity::auth::CurrentUser;

use crate::cart::{self, AddLineRequest, SetQuantityRequest};
use crate::checkout::{self, order_view, CheckoutRequest};
use crate::reviews::{self, ReviewRequest};
use crate::store;
use crate::views::{CartLineView, CartView, OrderView, ReviewView};
use crate::MarketplaceState;

/// Your cart.
#[utoipa::path(
    get, path = "/api/v1/marketplace/cart", tag = "Marketplace",
    security(("bearer" = [])),
    responses((status = 200, description = "The cart", body = Envelope<CartView>))
)]
pub async fn cart(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
) -> Result<ApiSuccess<CartView>, ApiError> {
    Ok(ApiSuccess::ok(cart::view(&state, &user.user_id).await?))
}

/// Add a line (each call adds one, even for a product in the cart; the
/// cart's lines of one product together never exceed what is available).
#[utoipa::path(
    post, path = "/api/v1/marketplace/cart/lines", tag = "Marketplace",
    security(("bearer" = [])),
    request_body = AddLineRequest,
    responses(
        (status = 201, description = "The line", body = Envelope<CartLineView>),
        (status = 404, description = "No such product for sale", body = ErrorEnvelope),
        (status = 409, description = "Not enough available, or the cart is full (50 lines)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid, or the product's currency is not the cart's", body = ErrorEnvelope),
    )
)]
pub async fn add_line(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Json(body): Json<AddLineRequest>,
) -> Result<ApiSuccess<CartLineView>, ApiError> {
    Ok(ApiSuccess::created(
        cart::add(&state, &user.user_id, body).await?,
    ))
}

/// Change a line's quantity.
#[utoipa::path(
    patch, path = "/api/v1/marketplace/cart/lines/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The line's id")),
    request_body = SetQuantityRequest,
    responses(
        (status = 200, description = "The cart", body = Envelope<CartView>),
        (status = 404, description = "No such line in your cart", body = ErrorEnvelope),
        (status = 409, description = "Not enough available", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn set_quantity(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<SetQuantityRequest>,
) -> Result<ApiSuccess<CartView>, ApiError> {
    Ok(ApiSuccess::ok(
        cart::set_quantity(&state, &user.user_id, &id, body).await?,
    ))
}

/// Remove a line.
#[utoipa::path(
    delete, path = "/api/v1/marketplace/cart/lines/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The line's id")),
    responses(
        (status = 200, description = "The cart without it", body = Envelope<CartView>),
        (status = 404, description = "No such line in your cart", body = ErrorEnvelope),
    )
)]
pub async fn remove_line(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<ApiSuccess<CartView>, ApiError> {
    cart::remove(&state, &user.user_id, &id).await?;
    Ok(ApiSuccess::ok(cart::view(&state, &user.user_id).await?))
}

/// Check out the cart: one order, one vendor order per store, the stock
/// reserved until it is paid (`expires_at`), the payment started. Send an
/// `Idempotency-Key`: a retry with the same key answers the same order.
#[utoipa::path(
    post, path = "/api/v1/marketplace/checkout", tag = "Marketplace",
    security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, description = "Required: one key per checkout (a UUID); a replay answers the first answer, another body with it answers 409")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "The order, awaiting payment", body = Envelope<OrderView>),
        (status = 400, description = "No `Idempotency-Key`", body = ErrorEnvelope),
        (status = 409, description = "Not enough stock (nothing was reserved), a product is no longer for sale, or the key was used with another body", body = ErrorEnvelope),
        (status = 422, description = "The cart is empty or mixes currencies, or the provider is not configured", body = ErrorEnvelope),
        (status = 503, description = "The payment provider did not answer: nothing was charged, the cart is kept", body = ErrorEnvelope),
    )
)]
pub async fn checkout(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !headers.contains_key("idempotency-key") {
        return Err(ApiError::bad_request(
            "Idempotency-Key: is required (one key per checkout, e.g. a UUID)",
        ));
    }
    let request: CheckoutRequest = parse_json(&body)?;
    let route = format!("POST /marketplace/checkout {}", user.user_id);
    let scope = Scope {
        organization_id: &user.organization_id,
        route: &route,
    };
    let db = state.db.clone();
    let buyer = user.user_id.clone();
    idempotent(&db, scope, &headers, &body, |_key| async move {
        Ok(ApiSuccess::created(
            checkout::checkout(&state, &buyer, request).await?,
        ))
    })
    .await
}

/// Your orders, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/orders", tag = "Marketplace",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Orders", body = Envelope<Vec<OrderView>>))
)]
pub async fn orders(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<OrderView>>, ApiError> {
    let page = query.page()?;
    let before = page.cursor.as_deref().map(MarketplaceOrderId::from_trusted);
    let mut conn = state.db.pool().acquire().await?;
    let mut rows =
        store::buyer_orders(&mut *conn, &user.user_id, before.as_ref(), page.fetch()).await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(order_view(&mut conn, row, false).await?);
    }
    Ok(ApiSuccess::ok(views).with_meta(meta))
}

async fn own_order(
    state: &MarketplaceState,
    user: &CurrentUser,
    id: &str,
) -> Result<store::OrderRow, ApiError> {
    let not_found = || ApiError::not_found("order");
    let id = MarketplaceOrderId::parse(id).ok_or_else(not_found)?;
    store::buyer_order(state.db.pool(), &user.user_id, &id)
        .await?
        .ok_or_else(not_found)
}

/// One of your orders (with its client secret while unpaid).
#[utoipa::path(
    get, path = "/api/v1/marketplace/orders/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = Envelope<OrderView>),
        (status = 404, description = "No such order of yours", body = ErrorEnvelope),
    )
)]
pub async fn order(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<ApiSuccess<OrderView>, ApiError> {
    let row = own_order(&state, &user, &id).await?;
    let unpaid = row.status == store::OrderStatus::PendingPayment;
    let mut conn = state.db.pool().acquire().await?;
    Ok(ApiSuccess::ok(order_view(&mut conn, row, unpaid).await?))
}

/// Cancel an unpaid order: its stock returns.
#[utoipa::path(
    post, path = "/api/v1/marketplace/orders/{id}/cancel", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order, cancelled", body = Envelope<OrderView>),
        (status = 404, description = "No such order of yours", body = ErrorEnvelope),
        (status = 409, description = "The order is not unpaid", body = ErrorEnvelope),
    )
)]
pub async fn cancel(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<ApiSuccess<OrderView>, ApiError> {
    let row = crate::fulfilment::cancel_order(&state, &user.user_id, &id).await?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(ApiSuccess::ok(order_view(&mut conn, row, false).await?))
}

/// Review an item of a delivered order (once per item): its product and store.
#[utoipa::path(
    post, path = "/api/v1/marketplace/orders/{id}/items/{item_id}/review", tag = "Marketplace",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The order's id"),
        ("item_id" = String, Path, description = "The order item's id"),
    ),
    request_body = ReviewRequest,
    responses(
        (status = 201, description = "The review", body = Envelope<ReviewView>),
        (status = 404, description = "No such item in your orders", body = ErrorEnvelope),
        (status = 409, description = "Not delivered yet, or reviewed already", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn review(
    State(state): State<MarketplaceState>,
    user: CurrentUser,
    Path((id, item_id)): Path<(String, String)>,
    Json(body): Json<ReviewRequest>,
) -> Result<ApiSuccess<ReviewView>, ApiError> {
    Ok(ApiSuccess::created(
        reviews::create(&state, &user.user_id, &id, &item_id, body).await?,
    ))
}
