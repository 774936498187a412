//! `GET /billing/usage`.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::IdentityState;

use crate::period::{period_usage, PeriodUsage};

/// This period's metered usage against the plan.
#[utoipa::path(
    get, path = "/billing/usage", tag = "usage",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Usage this period", body = Envelope<PeriodUsage>),
        (status = 403, description = "Missing permission view_billing", body = ErrorEnvelope),
    )
)]
pub async fn billing_usage(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewBilling>,
) -> Result<ApiSuccess<PeriodUsage>, ApiError> {
    Ok(ApiSuccess::ok(
        period_usage(&state, &user.organization_id).await?,
    ))
}
