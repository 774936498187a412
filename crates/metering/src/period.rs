//! This period's usage against the plan: what `/billing/usage` answers and
//! the dashboard's headline figures include.

use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::{store as identity_store, IdentityState};
use landlord_limits::{month_key, month_start_ms, next_month_start_ms};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodUsage {
    /// `YYYY-MM` (UTC).
    pub period: String,
    pub plan: String,
    /// Metered requests this period.
    pub used: i64,
    /// Included requests; absent: unlimited.
    pub included: Option<i64>,
    pub remaining: Option<i64>,
    pub overage_requests: i64,
    /// Overage so far, minor units of `currency`.
    pub overage_amount: i64,
    pub currency: String,
    pub resets_at: Timestamp,
}

/// The organization's usage this month (UTC) on its plan.
pub async fn period_usage(
    state: &IdentityState,
    organization_id: &OrganizationId,
) -> Result<PeriodUsage, ApiError> {
    let now = Timestamp::now();
    let organization = identity_store::organization_by_id(state.db.pool(), organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let plan = state
        .config
        .plan(&organization.plan)
        .cloned()
        .ok_or_else(|| ApiError::internal(plan_missing(&organization.plan)))?;
    let month_start = Timestamp::from_millis(month_start_ms(now.millis()));
    let used = crate::store::count_since(state.db.pool(), organization_id, month_start).await?;
    let overage_requests = plan.overage_requests(used);
    Ok(PeriodUsage {
        period: month_key(now.millis()),
        plan: organization.plan,
        used,
        included: plan.included_requests,
        remaining: plan.included_requests.map(|i| (i - used).max(0)),
        overage_requests,
        overage_amount: overage_requests * plan.overage_price.unwrap_or(0),
        currency: plan.currency,
        resets_at: Timestamp::from_millis(next_month_start_ms(now.millis())),
    })
}

fn plan_missing(name: &str) -> std::io::Error {
    std::io::Error::other(format!("plan {name} is not in the catalog"))
}
