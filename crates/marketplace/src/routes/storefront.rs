//! `/marketplace/products…`, `/marketplace/stores/{slug}`: what anyone may
//! browse, without signing in.

use crate::ids::{ProductId, ReviewId};
use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, PageQuery, Query};
use landlord_core::ApiError;

use crate::catalog::{self, CatalogQuery};
use crate::store::{self, VendorStatus};
use crate::views::{ProductView, ReviewView, StoreView};
use crate::MarketplaceState;

/// The catalog: listed products (active, of approved stores), newest
/// first, with filters, full-text search (`q`) and search by distance
/// (`latitude`, `longitude`, `radius_km`: each product's `distance_km`).
#[utoipa::path(
    get, path = "/api/v1/marketplace/products", tag = "Marketplace",
    params(CatalogQuery),
    responses(
        (status = 200, description = "Products; `meta.next_cursor` when more follow", body = Envelope<Vec<ProductView>>),
        (status = 422, description = "A filter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn products(
    State(state): State<MarketplaceState>,
    Query(query): Query<CatalogQuery>,
) -> Result<ApiSuccess<Vec<ProductView>>, ApiError> {
    catalog::search(&state, query).await
}

fn listed_id(id: &str) -> Result<ProductId, ApiError> {
    ProductId::parse(id).ok_or_else(|| ApiError::not_found("product"))
}

/// A listed product.
#[utoipa::path(
    get, path = "/api/v1/marketplace/products/{id}", tag = "Marketplace",
    params(("id" = String, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = Envelope<ProductView>),
        (status = 404, description = "No such product for sale", body = ErrorEnvelope),
    )
)]
pub async fn product(
    State(state): State<MarketplaceState>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ProductView>, ApiError> {
    let id = listed_id(&id)?;
    let row = store::read_listed_product(&state.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    Ok(ApiSuccess::ok(ProductView::new(row)))
}

/// A listed product's reviews, newest first.
#[utoipa::path(
    get, path = "/api/v1/marketplace/products/{id}/reviews", tag = "Marketplace",
    params(("id" = String, Path, description = "The product's id"), PageQuery),
    responses(
        (status = 200, description = "Reviews", body = Envelope<Vec<ReviewView>>),
        (status = 404, description = "No such product for sale", body = ErrorEnvelope),
    )
)]
pub async fn product_reviews(
    State(state): State<MarketplaceState>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<ReviewView>>, ApiError> {
    let page = query.page()?;
    let id = listed_id(&id)?;
    let pool = state.db.pool();
    store::listed_product(pool, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    let before = page.cursor.as_deref().map(ReviewId::from_trusted);
    let rows = store::reviews(pool, Some(&id), None, before.as_ref(), page.fetch()).await?;
    Ok(page.respond(rows, |r| r.id.to_string(), ReviewView::new))
}

/// An approved store.
#[utoipa::path(
    get, path = "/api/v1/marketplace/stores/{slug}", tag = "Marketplace",
    params(("slug" = String, Path, description = "The store's slug")),
    responses(
        (status = 200, description = "The store", body = Envelope<StoreView>),
        (status = 404, description = "No such store open", body = ErrorEnvelope),
    )
)]
pub async fn store(
    State(state): State<MarketplaceState>,
    Path(slug): Path<String>,
) -> Result<ApiSuccess<StoreView>, ApiError> {
    let row = store::vendor_by_slug(state.db.pool(), &slug)
        .await?
        .filter(|v| v.status == VendorStatus::Approved)
        .ok_or_else(|| ApiError::not_found("store"))?;
    Ok(ApiSuccess::ok(StoreView::new(row)))
}
