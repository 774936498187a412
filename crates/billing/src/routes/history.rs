//! `GET /billing/history` and `GET /billing/calculate`.

use crate::BillingState;
use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, PageQuery, Query};
use landlord_core::ids::BillingCycleId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use serde::Serialize;
use utoipa::ToSchema;

use crate::manage;
use crate::money::format_money;
use crate::store::{self, CycleRow, CycleStatus};
use crate::views::Calculation;

#[derive(Debug, Serialize, ToSchema)]
pub struct CycleView {
    pub id: BillingCycleId,
    /// `YYYY-MM`.
    pub period: String,
    pub plan: String,
    pub requests: i64,
    /// Included requests; absent: unlimited.
    pub included: Option<i64>,
    pub overage_requests: i64,
    /// Minor units of `currency`, like every amount.
    pub base_amount: i64,
    pub overage_amount: i64,
    /// Prorated plan changes during the period.
    pub adjustments: i64,
    pub amount: i64,
    pub currency: String,
    /// e.g. `60.00 USD`.
    pub amount_display: String,
    pub status: CycleStatus,
    pub due_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl From<CycleRow> for CycleView {
    fn from(r: CycleRow) -> Self {
        Self {
            amount_display: format_money(r.amount, &r.currency),
            id: r.id,
            period: r.period,
            plan: r.plan,
            requests: r.requests,
            included: r.included,
            overage_requests: r.overage_requests,
            base_amount: r.base_amount,
            overage_amount: r.overage_amount,
            adjustments: r.adjustments,
            amount: r.amount,
            currency: r.currency,
            status: r.status,
            due_at: r.due_at,
            paid_at: r.paid_at,
            created_at: r.created_at,
        }
    }
}

/// The organization's billing cycles, newest first.
#[utoipa::path(
    get, path = "/api/v1/billing/history", tag = "billing",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Cycles; `meta.next_cursor` when more follow", body = Envelope<Vec<CycleView>>),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn history(
    State(state): State<BillingState>,
    user: Authorized<needs::ViewBilling>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<CycleView>>, ApiError> {
    let page = query.page()?;
    let rows = store::cycles(
        state.db.pool(),
        &user.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), CycleView::from))
}

/// The current period so far, with the same function as the invoice: each
/// stretch of the month billed by the plan in force during it.
#[utoipa::path(
    get, path = "/api/v1/billing/calculate", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The period so far", body = Envelope<Calculation>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn calculate(
    State(state): State<BillingState>,
    user: Authorized<needs::ViewBilling>,
) -> Result<ApiSuccess<Calculation>, ApiError> {
    let calculation = manage::calculate(&state, &user.organization_id).await?;
    Ok(ApiSuccess::ok(calculation))
}
