//! `GET /billing/usage`.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use landlord_identity::delegated::{scope, PersonOrApp};
use landlord_identity::permissions::needs;
use landlord_identity::IdentityState;

use crate::period::{period_usage, PeriodUsage};

/// This period's metered usage against the plan.
#[utoipa::path(
    get, path = "/api/v1/billing/usage", tag = "usage",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Usage this period", body = Envelope<PeriodUsage>),
        (status = 401, description = "Not signed in, or the app token no longer works", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_billing, or the app token lacks scope usage:read", body = ErrorEnvelope),
    )
)]
pub async fn billing_usage(
    State(state): State<IdentityState>,
    // Also an installed app's token with `usage:read`.
    who: PersonOrApp<needs::ViewBilling, scope::UsageRead>,
) -> Result<ApiSuccess<PeriodUsage>, ApiError> {
    Ok(ApiSuccess::ok(
        period_usage(&state, &who.organization_id).await?,
    ))
}
