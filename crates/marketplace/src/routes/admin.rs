//! `/admin/marketplace…`: the operator runs the marketplace.

use crate::ids::PayoutId;
use axum::extract::{Path, State};
use landlord_admin::PlatformAdmin;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, Query};
use landlord_core::ids::OrganizationId;
use landlord_core::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::MarketplaceConfig;
use crate::store::{self, OrderStatus, PayoutStatus, VendorStatus};
use crate::views::{PayoutView, VendorView};
use crate::{payouts, vendors, MarketplaceState};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VendorsQuery {
    pub status: Option<VendorStatus>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// Stores, newest first (pending ones wait for approval).
#[utoipa::path(
    get, path = "/api/v1/admin/marketplace/vendors", tag = "Marketplace",
    security(("bearer" = [])),
    params(VendorsQuery),
    responses(
        (status = 200, description = "Vendors", body = Envelope<Vec<VendorView>>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn vendors(
    State(state): State<MarketplaceState>,
    _admin: PlatformAdmin,
    Query(query): Query<VendorsQuery>,
) -> Result<ApiSuccess<Vec<VendorView>>, ApiError> {
    let page = landlord_core::http::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let before = page.cursor.as_deref().map(OrganizationId::from_trusted);
    let mut rows =
        store::vendors(state.db.pool(), query.status, before.as_ref(), page.fetch()).await?;
    let meta = page.finish(&mut rows, |r| r.organization_id.to_string());
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        views.push(vendors::view(&state, row).await?);
    }
    Ok(ApiSuccess::ok(views).with_meta(meta))
}

/// Approve a store: its active products are listed.
#[utoipa::path(
    post, path = "/api/v1/admin/marketplace/vendors/{organization_id}/approve", tag = "Marketplace",
    security(("bearer" = [])),
    params(("organization_id" = String, Path, description = "The vendor's organization id")),
    responses(
        (status = 200, description = "The vendor, approved", body = Envelope<VendorView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
    )
)]
pub async fn approve(
    State(state): State<MarketplaceState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(organization_id): Path<String>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    let id = OrganizationId::parse_or_not_found(&organization_id, "vendor")?;
    Ok(ApiSuccess::ok(
        vendors::decide(&state, &admin, &client, &id, VendorStatus::Approved, None).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    /// Shown to the store's team.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Suspend a store: its products leave the catalog, its carts cannot check
/// out, its payouts wait.
#[utoipa::path(
    post, path = "/api/v1/admin/marketplace/vendors/{organization_id}/suspend", tag = "Marketplace",
    security(("bearer" = [])),
    params(("organization_id" = String, Path, description = "The vendor's organization id")),
    request_body = SuspendRequest,
    responses(
        (status = 200, description = "The vendor, suspended", body = Envelope<VendorView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn suspend(
    State(state): State<MarketplaceState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Json(body): Json<SuspendRequest>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    let id = OrganizationId::parse_or_not_found(&organization_id, "vendor")?;
    Ok(ApiSuccess::ok(
        vendors::decide(
            &state,
            &admin,
            &client,
            &id,
            VendorStatus::Suspended,
            Some(body.reason),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why: shown to the store's team, who may change the store and
    /// apply again.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Reject a store waiting for approval, with the reason its team is
/// shown; it may change its store and apply again (`POST /marketplace/vendor`).
#[utoipa::path(
    post, path = "/api/v1/admin/marketplace/vendors/{organization_id}/reject", tag = "Marketplace",
    security(("bearer" = [])),
    params(("organization_id" = String, Path, description = "The vendor's organization id")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "The vendor, rejected", body = Envelope<VendorView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such vendor", body = ErrorEnvelope),
        (status = 409, description = "The store is not waiting for approval", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn reject(
    State(state): State<MarketplaceState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Json(body): Json<RejectRequest>,
) -> Result<ApiSuccess<VendorView>, ApiError> {
    let id = OrganizationId::parse_or_not_found(&organization_id, "vendor")?;
    Ok(ApiSuccess::ok(
        vendors::reject(&state, &admin, &client, &id, &body.reason).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCount {
    pub status: OrderStatus,
    pub orders: i64,
}

/// Money of paid orders, in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyFigures {
    pub currency: String,
    /// Σ subtotals of paid orders' vendor orders.
    pub gross_volume: i64,
    /// Σ platform fees of those not cancelled.
    pub fees: i64,
    /// Σ subtotals refunded (vendor orders cancelled after payment).
    pub refunds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MarketplaceFigures {
    pub orders: Vec<StatusCount>,
    pub money: Vec<MoneyFigures>,
}

pub async fn figures_of(state: &MarketplaceState) -> Result<MarketplaceFigures, ApiError> {
    let pool = state.db.pool();
    let orders = store::order_counts(pool)
        .await?
        .into_iter()
        .map(|(status, orders)| StatusCount { status, orders })
        .collect();
    let money = store::money_figures(pool)
        .await?
        .into_iter()
        .map(|(currency, gross_volume, fees, refunds)| MoneyFigures {
            currency,
            gross_volume,
            fees,
            refunds,
        })
        .collect();
    Ok(MarketplaceFigures { orders, money })
}

/// Orders by status; gross volume, fees and refunds per currency.
#[utoipa::path(
    get, path = "/api/v1/admin/marketplace/figures", tag = "Marketplace",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The figures", body = Envelope<MarketplaceFigures>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn figures(
    State(state): State<MarketplaceState>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<MarketplaceFigures>, ApiError> {
    Ok(ApiSuccess::ok(figures_of(&state).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayoutsQuery {
    pub status: Option<PayoutStatus>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// Every store's payouts, newest first (`status=failed`: those to look at).
#[utoipa::path(
    get, path = "/api/v1/admin/marketplace/payouts", tag = "Marketplace",
    security(("bearer" = [])),
    params(PayoutsQuery),
    responses(
        (status = 200, description = "Payouts", body = Envelope<Vec<PayoutView>>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn payouts(
    State(state): State<MarketplaceState>,
    _admin: PlatformAdmin,
    Query(query): Query<PayoutsQuery>,
) -> Result<ApiSuccess<Vec<PayoutView>>, ApiError> {
    let page = landlord_core::http::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let before = page.cursor.as_deref().map(PayoutId::from_trusted);
    let rows = store::payouts(
        state.db.pool(),
        None,
        query.status,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), PayoutView::new))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutRun {
    /// Payouts created (their transfers are queued).
    pub created: usize,
}

/// Create the payouts that are due now (the sweep does it on its own too).
#[utoipa::path(
    post, path = "/api/v1/admin/marketplace/payouts/run", tag = "Marketplace",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Payouts created", body = Envelope<PayoutRun>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn run_payouts(
    State(state): State<MarketplaceState>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<PayoutRun>, ApiError> {
    let hold = std::time::Duration::from_secs(
        state.config.section::<MarketplaceConfig>().payout_hold_secs,
    );
    let created = payouts::create_due(&state.db, hold)
        .await
        .map_err(ApiError::internal)?;
    state.identity.jobs.notify_one();
    Ok(ApiSuccess::ok(PayoutRun { created }))
}

/// Retry a failed payout (same payout, same idempotency key).
#[utoipa::path(
    post, path = "/api/v1/admin/marketplace/payouts/{id}/retry", tag = "Marketplace",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The payout's id")),
    responses(
        (status = 200, description = "The payout, pending again", body = Envelope<PayoutView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such payout", body = ErrorEnvelope),
        (status = 409, description = "The payout has not failed", body = ErrorEnvelope),
    )
)]
pub async fn retry_payout(
    State(state): State<MarketplaceState>,
    _admin: PlatformAdmin,
    Path(id): Path<String>,
) -> Result<ApiSuccess<PayoutView>, ApiError> {
    Ok(ApiSuccess::ok(PayoutView::new(
        payouts::retry(&state, &id).await?,
    )))
}
