//! `GET /dashboard/stats` and `GET /dashboard/api-keys`: usage figures that
//! join the organization's keys with metering's counts.

use axum::extract::State;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ids::ApiKeyId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use serde::Serialize;
use utoipa::ToSchema;

use crate::manage;
use crate::overview::{self, DashboardStats};
use crate::store::{self, KeyStatus};
use crate::KeysState;

/// Headline figures for the dashboard.
#[utoipa::path(
    get, path = "/api/v1/dashboard/stats", tag = "usage",
    security(("bearer" = [])),
    responses((status = 200, description = "Figures", body = Envelope<DashboardStats>))
)]
pub async fn dashboard_stats(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewDashboard>,
) -> Result<ApiSuccess<DashboardStats>, ApiError> {
    Ok(ApiSuccess::ok(
        overview::stats(&state, &user.organization_id).await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyUsage {
    pub key_id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub status: KeyStatus,
    pub requests_this_month: i64,
    pub last_used_at: Option<Timestamp>,
}

/// Requests this month per API key.
#[utoipa::path(
    get, path = "/api/v1/dashboard/api-keys", tag = "usage",
    security(("bearer" = [])),
    responses((status = 200, description = "Per key, busiest first", body = Envelope<Vec<KeyUsage>>))
)]
pub async fn api_key_usage(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewDashboard>,
) -> Result<ApiSuccess<Vec<KeyUsage>>, ApiError> {
    let pool = state.db.pool();
    let org = &user.organization_id;
    let counts = manage::requests_this_month(&state, org).await?;
    let mut usage: Vec<KeyUsage> = store::all(pool, org)
        .await?
        .into_iter()
        .map(|key| KeyUsage {
            status: key.status(),
            requests_this_month: counts.get(&key.id).copied().unwrap_or(0),
            key_id: key.id,
            name: key.name,
            prefix: key.prefix,
            last_used_at: key.last_used_at,
        })
        .collect();
    // Busiest first; ties in key order.
    usage.sort_by(|a, b| {
        b.requests_this_month
            .cmp(&a.requests_this_month)
            .then_with(|| a.key_id.cmp(&b.key_id))
    });
    Ok(ApiSuccess::ok(usage))
}
