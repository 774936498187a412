//! `/marketplace/vendor…`: the store as its team runs it.

use crate::ids::{ProductId, VendorOrderId};
use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::catalog::{self, NewProductRequest, UpdateProductRequest};
use crate::fulfilment::{self, StatusRequest};
use crate::payouts::{self, LedgerView};
use crate::permissions::needs;
use crate::reviews::{self, ReplyRequest};
use crate::store::{self, ProductStatus, VendorOrderStatus};
use crate::vendors::{self, ApplyRequest, UpdateVendorRequest};
use crate::views::{PayoutView, ProductView, ReviewView, VendorOrderView, VendorView};
use crate::MarketplaceState;

/// Apply to sell: the organization becomes a store, pending approval. A
/// rejected store applies again the same way (its fields replaced, pending
/// again); the payout account may come later.
#[utoipa::path(
    post, path = "/api/v1/marketplace/vendor", tag = "Marketplace",
    security(("bearer" = [])),
    request_body = ApplyRequest,
    responses(
        (status = 201, description = "Applied; an operator approves it", body = Envelope<VendorView>),
        (status = 403, description = "Missing permission manage_store", body = ErrorEnvelope),
        (status = 409, description = "Applied already (and not rejected), or the slug is taken", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn apply(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageStore>,
    Json(body): Json<ApplyRequest>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    Ok(ApiSuccess::created(
        vendors::apply(&state, &user.organization_id, body).await?,
    ))
}

/// The organization's store.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor", tag = "Marketplace",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The store", body = Envelope<VendorView>),
        (status = 403, description = "Missing permission manage_products", body = ErrorEnvelope),
        (status = 404, description = "The organization has not applied to sell", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageProducts>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    let row = vendors::own(&state, &user.organization_id).await?;
    Ok(ApiSuccess::ok(vendors::view(&state, row).await?))
}

/// Change the store's name, address, description, location or payout account.
#[utoipa::path(
    patch, path = "/api/v1/marketplace/vendor", tag = "Marketplace",
    security(("bearer" = [])),
    request_body = UpdateVendorRequest,
    responses(
        (status = 200, description = "The store as changed", body = Envelope<VendorView>),
        (status = 403, description = "Missing permission manage_store", body = ErrorEnvelope),
        (status = 404, description = "The organization has not applied to sell", body = ErrorEnvelope),
        (status = 409, description = "The slug is taken", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageStore>,
    Json(body): Json<UpdateVendorRequest>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    Ok(ApiSuccess::ok(
        vendors::update(&state, &user.organization_id, body).await?,
    ))
}

/// Add a product (a draft unless `status` says `active`).
#[utoipa::path(
    post, path = "/api/v1/marketplace/vendor/products", tag = "Marketplace",
    security(("bearer" = [])),
    request_body = NewProductRequest,
    responses(
        (status = 201, description = "The product", body = Envelope<ProductView>),
        (status = 403, description = "Missing permission manage_products", body = ErrorEnvelope),
        (status = 404, description = "The organization has not applied to sell", body = ErrorEnvelope),
        (status = 409, description = "The store has a product with this slug", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn create_product(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageProducts>,
    Json(body): Json<NewProductRequest>,
) -> Result<ApiSuccess<ProductView>, ApiError> {
    Ok(ApiSuccess::created(
        catalog::create(&state, &user.organization_id, body).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    pub status: Option<ProductStatus>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// The store's products, whatever their status, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/products", tag = "Marketplace",
    security(("bearer" = [])),
    params(ProductsQuery),
    responses(
        (status = 200, description = "Products; `meta.next_cursor` when more follow", body = Envelope<Vec<ProductView>>),
        (status = 403, description = "Missing permission manage_products", body = ErrorEnvelope),
    )
)]
pub async fn products(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageProducts>,
    Query(query): Query<ProductsQuery>,
) -> Result<ApiSuccess<Vec<ProductView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let before = page.cursor.as_deref().map(ProductId::from_trusted);
    let rows = store::vendor_products(
        state.db.pool(),
        &user.organization_id,
        query.status,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), ProductView::new))
}

/// One of the store's products.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/products/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = Envelope<ProductView>),
        (status = 403, description = "Missing permission manage_products", body = ErrorEnvelope),
        (status = 404, description = "No such product in this store", body = ErrorEnvelope),
    )
)]
pub async fn product(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageProducts>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ProductView>, ApiError> {
    Ok(ApiSuccess::ok(
        catalog::own_product(&state, &user.organization_id, &id).await?,
    ))
}

/// Change a product (its stock never below what unpaid orders hold).
#[utoipa::path(
    patch, path = "/api/v1/marketplace/vendor/products/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The product's id")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, description = "The product as changed", body = Envelope<ProductView>),
        (status = 403, description = "Missing permission manage_products", body = ErrorEnvelope),
        (status = 404, description = "No such product in this store", body = ErrorEnvelope),
        (status = 409, description = "The slug is taken, or the stock would be below what is reserved", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn update_product(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageProducts>,
    Path(id): Path<String>,
    Json(body): Json<UpdateProductRequest>,
) -> Result<ApiSuccess<ProductView>, ApiError> {
    Ok(ApiSuccess::ok(
        catalog::update(&state, &user.organization_id, &id, body).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// One status; absent: every paid one (not `pending_payment`).
    pub status: Option<VendorOrderStatus>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// The store's part of orders, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/orders", tag = "Marketplace",
    security(("bearer" = [])),
    params(OrdersQuery),
    responses(
        (status = 200, description = "Vendor orders; `meta.next_cursor` when more follow", body = Envelope<Vec<VendorOrderView>>),
        (status = 403, description = "Missing permission fulfil_orders", body = ErrorEnvelope),
    )
)]
pub async fn orders(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::FulfilOrders>,
    Query(query): Query<OrdersQuery>,
) -> Result<ApiSuccess<Vec<VendorOrderView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let before = page.cursor.as_deref().map(VendorOrderId::from_trusted);
    let mut conn = state.db.pool().acquire().await?;
    let mut rows = store::vendor_orders(
        &mut *conn,
        &user.organization_id,
        query.status,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(fulfilment::vendor_order_view(&mut conn, row).await?);
    }
    Ok(ApiSuccess::ok(views).with_meta(meta))
}

/// One of the store's vendor orders, with its items and money.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/orders/{id}", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The vendor order's id")),
    responses(
        (status = 200, description = "The vendor order", body = Envelope<VendorOrderView>),
        (status = 403, description = "Missing permission fulfil_orders", body = ErrorEnvelope),
        (status = 404, description = "No such vendor order in this store", body = ErrorEnvelope),
    )
)]
pub async fn order(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::FulfilOrders>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<VendorOrderView>, ApiError> {
    let row = fulfilment::own(&state, &user.organization_id, &id).await?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(ApiSuccess::ok(
        fulfilment::vendor_order_view(&mut conn, row).await?,
    ))
}

/// Move a vendor order: processing, shipped (with a tracking reference),
/// delivered — or cancelled before shipping (stock back, buyer refunded).
#[utoipa::path(
    post, path = "/api/v1/marketplace/vendor/orders/{id}/status", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The vendor order's id")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "The vendor order as moved", body = Envelope<VendorOrderView>),
        (status = 403, description = "Missing permission fulfil_orders", body = ErrorEnvelope),
        (status = 404, description = "No such vendor order in this store", body = ErrorEnvelope),
        (status = 409, description = "Not a move from its status", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (a shipment needs its tracking reference)", body = ErrorEnvelope),
    )
)]
pub async fn set_status(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::FulfilOrders>,
    Path(id): Path<String>,
    Json(body): Json<StatusRequest>,
) -> Result<ApiSuccess<VendorOrderView>, ApiError> {
    Ok(ApiSuccess::ok(
        fulfilment::change_status(&state, &user.organization_id, &id, body).await?,
    ))
}

/// Reviews of the store's products, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/reviews", tag = "Marketplace",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Reviews", body = Envelope<Vec<ReviewView>>),
        (status = 403, description = "Missing permission fulfil_orders", body = ErrorEnvelope),
    )
)]
pub async fn reviews(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::FulfilOrders>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<ReviewView>>, ApiError> {
    let page = query.page()?;
    let before = page
        .cursor
        .as_deref()
        .map(crate::ids::ReviewId::from_trusted);
    let rows = store::reviews(
        state.db.pool(),
        None,
        Some(&user.organization_id),
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), ReviewView::new))
}

/// Reply to a review of the store (replaces an earlier reply).
#[utoipa::path(
    post, path = "/api/v1/marketplace/vendor/reviews/{id}/reply", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The review's id")),
    request_body = ReplyRequest,
    responses(
        (status = 200, description = "The review with its reply", body = Envelope<ReviewView>),
        (status = 403, description = "Missing permission manage_store", body = ErrorEnvelope),
        (status = 404, description = "No such review of this store", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn reply(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ManageStore>,
    Path(id): Path<String>,
    Json(body): Json<ReplyRequest>,
) -> Result<ApiSuccess<ReviewView>, ApiError> {
    Ok(ApiSuccess::ok(
        reviews::reply(&state, &user.organization_id, &id, body).await?,
    ))
}

/// The store's ledger: earned, reversed, paid out and the balance, per currency.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/ledger", tag = "Marketplace",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Balances and the latest entries", body = Envelope<LedgerView>),
        (status = 403, description = "Missing permission view_earnings", body = ErrorEnvelope),
    )
)]
pub async fn ledger(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ViewEarnings>,
) -> Result<ApiSuccess<LedgerView>, ApiError> {
    Ok(ApiSuccess::ok(
        payouts::ledger(&state, &user.organization_id).await?,
    ))
}

/// The store's payouts, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/vendor/payouts", tag = "Marketplace",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Payouts", body = Envelope<Vec<PayoutView>>),
        (status = 403, description = "Missing permission view_earnings", body = ErrorEnvelope),
    )
)]
pub async fn payouts(
    State(state): State<MarketplaceState>,
    user: Authorized<needs::ViewEarnings>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<PayoutView>>, ApiError> {
    let page = query.page()?;
    let before = page
        .cursor
        .as_deref()
        .map(crate::ids::PayoutId::from_trusted);
    let rows = store::payouts(
        state.db.pool(),
        Some(&user.organization_id),
        None,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), PayoutView::new))
}
