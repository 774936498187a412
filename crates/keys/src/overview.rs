//! The organization's headline figures: what `GET /dashboard/stats` answers
//! and the console's overview shows.

use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use landlord_metering::period::{period_usage, PeriodUsage};
use landlord_metering::store as usage_store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{store, KeysState};

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardStats {
    pub requests_today: i64,
    pub requests_this_month: i64,
    pub active_api_keys: i64,
    pub usage: PeriodUsage,
}

/// Requests today and this month, active keys and the period's usage
/// against the plan. The caller has checked `ViewDashboard`.
pub async fn stats(
    state: &KeysState,
    organization_id: &OrganizationId,
) -> Result<DashboardStats, ApiError> {
    let now = Timestamp::now();
    let today = Timestamp::from_millis(now.millis() - now.millis().rem_euclid(DAY_MS));
    let pool = state.db.pool();
    let usage = period_usage(&state.identity, organization_id).await?;
    let requests_today = usage_store::count_since(pool, organization_id, today).await?;
    let active_api_keys = store::active_count(pool, organization_id, now).await?;
    Ok(DashboardStats {
        requests_today,
        requests_this_month: usage.used,
        active_api_keys,
        usage,
    })
}
