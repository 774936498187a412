//! `POST /billing/upgrade` and `DELETE /billing/scheduled-change`.

use crate::BillingState;
use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::manage;
use crate::views::{PlanChangeView, ScheduledChangeView};

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpgradeRequest {
    /// A plan of the catalog other than the current one, e.g. `starter`.
    pub plan: String,
}

/// Move the organization to another plan (owners only; 3 a minute).
///
/// An upgrade (a plan with a higher price) takes effect at once, limits
/// included; the rest of the month is charged `(new price − old price) ×
/// remaining time ÷ month length` (rounded down), added to this month's
/// invoice, and any scheduled downgrade is dropped. A downgrade (any other
/// plan) is scheduled for the end of the period: the month is billed on the
/// current plan, usage already made included; `GET /billing/calculate` and
/// `GET /organization` show it, and `DELETE /billing/scheduled-change`
/// cancels it. A new downgrade replaces a scheduled one. Changes of one
/// organization happen one at a time: of two simultaneous requests one
/// changes the plan and the other answers 409 (nothing changed).
#[utoipa::path(
    post, path = "/api/v1/billing/upgrade", tag = "billing",
    security(("bearer" = [])),
    request_body = UpgradeRequest,
    responses(
        (status = 200, description = "Changed now (upgrade) or scheduled (downgrade)", body = Envelope<PlanChangeView>),
        (status = 400, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission upgrade_plan", body = ErrorEnvelope),
        (status = 409, description = "Another plan change for the organization finished while this one waited; nothing was changed (read the plan again)", body = ErrorEnvelope),
        (status = 422, description = "Unknown plan, or the current one", body = ErrorEnvelope),
        (status = 429, description = "More than 3 changes a minute", body = ErrorEnvelope),
    )
)]
pub async fn upgrade(
    State(state): State<BillingState>,
    user: Authorized<needs::UpgradePlan>,
    client: ClientInfo,
    Json(body): Json<UpgradeRequest>,
) -> Result<ApiSuccess<PlanChangeView>, ApiError> {
    let change = manage::change_plan(&state, &user, &client, &body.plan).await?;
    Ok(ApiSuccess::ok(change))
}

/// Cancel the scheduled downgrade (owners only). The organization stays on
/// its current plan.
#[utoipa::path(
    delete, path = "/api/v1/billing/scheduled-change", tag = "billing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled: the change that was scheduled", body = Envelope<ScheduledChangeView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission upgrade_plan", body = ErrorEnvelope),
        (status = 404, description = "No change is scheduled", body = ErrorEnvelope),
    )
)]
pub async fn cancel_scheduled_change(
    State(state): State<BillingState>,
    user: Authorized<needs::UpgradePlan>,
    client: ClientInfo,
) -> Result<ApiSuccess<ScheduledChangeView>, ApiError> {
    let cancelled = manage::cancel_scheduled_change(&state, &user, &client).await?;
    Ok(ApiSuccess::ok(cancelled))
}
