//! `POST /billing/initiate-payment`: a provider's checkout for a billing
//! cycle.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::idempotency::{idempotent, Scope};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::PaymentsState;
use crate::checkout;

#[derive(Debug, Deserialize, ToSchema)]
pub struct InitiatePaymentRequest {
    /// The billing cycle to pay (`GET /billing/history`).
    #[schema(format = Uuid)]
    pub billing_cycle_id: String,
    /// `stripe` or `paystack`.
    #[schema(pattern = "^(stripe|paystack)$", example = "stripe")]
    pub provider: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentCheckout {
    pub provider: String,
    /// Send the customer here to pay.
    pub checkout_url: String,
    /// Stripe Checkout Session id or Paystack reference.
    pub reference: String,
    pub amount: i64,
    pub currency: String,
}

/// Start paying a billing cycle: answers the provider's checkout URL
/// (owners only; 5 a minute; `Idempotency-Key` makes retries answer the
/// same checkout).
#[utoipa::path(
    post, path = "/api/v1/billing/initiate-payment", tag = "billing",
    security(("bearer" = [])),
    request_body = InitiatePaymentRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for 24 hours")),
    responses(
        (status = 200, description = "The checkout", body = Envelope<PaymentCheckout>),
        (status = 403, description = "Missing permission pay_invoices", body = ErrorEnvelope),
        (status = 404, description = "No such cycle in this organization", body = ErrorEnvelope),
        (status = 409, description = "Already paid, void, or nothing to pay", body = ErrorEnvelope),
        (status = 429, description = "More than 5 a minute", body = ErrorEnvelope),
        (status = 503, description = "The provider is not configured or did not answer", body = ErrorEnvelope),
    )
)]
pub async fn initiate_payment(
    State(state): State<PaymentsState>,
    user: Authorized<needs::PayInvoices>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    checkout::limit(&state, &user.organization_id).await?;
    let request: InitiatePaymentRequest = parse_json(&body)?;
    let (provider, cycle) = checkout::payable(
        &state,
        &user.organization_id,
        &request.provider,
        &request.billing_cycle_id,
    )
    .await?;
    let scope = Scope {
        organization_id: &user.organization_id,
        route: "POST /billing/initiate-payment",
    };
    idempotent(&state.db, scope, &headers, &body, |key| async {
        let checkout =
            checkout::start_checkout(&state, &user.organization_id, provider, cycle, key).await?;
        Ok(ApiSuccess::ok(checkout))
    })
    .await
}
