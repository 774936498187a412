//! `POST /admin/billing/close-period`: closing a finished month now.

use axum::extract::State;
use landlord_billing::Period;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Json};
use landlord_core::ApiError;
use landlord_payments::routes::PaymentsState;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::PlatformAdmin;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClosePeriodRequest {
    /// `YYYY-MM` (UTC), a month that has ended.
    pub month: String,
}

/// Close a finished month into billing cycles now (safe to repeat).
///
/// The current month and future months are refused (422 naming `month`).
#[utoipa::path(
    post, path = "/api/v1/admin/billing/close-period", tag = "admin",
    security(("bearer" = [])),
    request_body = ClosePeriodRequest,
    responses(
        (status = 200, description = "Cycles created and already existing", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "`month` is not `YYYY-MM`, or has not ended yet", body = ErrorEnvelope),
    )
)]
pub async fn close_period(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Json(body): Json<ClosePeriodRequest>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    let period = Period::from_field("month", body.month.trim())?;
    let report = landlord_billing::close_period(&state.db, &state.config, period)
        .await
        .map_err(|error| {
            error
                .downcast::<ApiError>()
                .unwrap_or_else(ApiError::internal)
        })?;
    landlord_audit::record(
        state.db.pool(),
        admin
            .audit(&client, "admin.period_closed")
            .details(serde_json::json!({ "period": period.key(), "created": report.created })),
    )
    .await?;
    state.identity.jobs.notify_one();
    Ok(ApiSuccess::ok(serde_json::json!({
        "period": period.key(),
        "created": report.created,
        "existing": report.existing,
    })))
}
