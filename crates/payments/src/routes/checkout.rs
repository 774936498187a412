//! `POST /billing/initiate-payment`: a provider's checkout for a billing
//! cycle.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use landlord_billing::store::{self as billing_store, CycleRow};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::idempotency::{idempotent, Scope};
use landlord_core::ids::{BillingCycleId, OrganizationId};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::store as identity_store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::PaymentsState;
use crate::providers::{CheckoutRequest, ProviderName};
use crate::store::{self, NewPayment, PaymentStatus};

/// Checkouts per organization per minute (seed 001).
pub const CHECKOUTS_PER_MINUTE: u32 = 5;

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
    post, path = "/billing/initiate-payment", tag = "billing",
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
    state
        .keys
        .limit(
            &format!("checkout:{}", user.organization_id),
            CHECKOUTS_PER_MINUTE,
            "payment checkouts",
        )
        .await?;
    let request: InitiatePaymentRequest = parse_json(&body)?;
    let provider = ProviderName::parse(&request.provider)
        .ok_or_else(|| ApiError::invalid_field("provider", "must be stripe or paystack"))?;
    if !state.providers.configured(provider) {
        return Err(ApiError::ServiceUnavailable {
            message: format!(
                "{} payments are not configured on this server",
                provider.as_str()
            ),
            details: None,
        });
    }
    let db = &state.keys.db;
    let cycle_not_found = || ApiError::not_found("billing cycle");
    let cycle_id =
        BillingCycleId::parse(request.billing_cycle_id.trim()).ok_or_else(cycle_not_found)?;
    let cycle = billing_store::cycle_of(db.pool(), &user.organization_id, &cycle_id)
        .await?
        .ok_or_else(cycle_not_found)?;
    if !cycle.status.is_payable() || cycle.amount <= 0 {
        return Err(ApiError::Conflict(format!(
            "this billing cycle is {} and has nothing to pay",
            cycle.status
        )));
    }
    let scope = Scope {
        organization_id: &user.organization_id,
        route: "POST /billing/initiate-payment",
    };
    idempotent(db, scope, &headers, &body, |key| async {
        let checkout = start_checkout(&state, &user.organization_id, provider, cycle, key).await?;
        Ok(ApiSuccess::ok(checkout))
    })
    .await
}

/// Asks `provider` for a checkout of `cycle` and records the payment it
/// starts. The provider's idempotency key derives from the client's
/// (`key`), so a retry the provider sees twice starts one checkout.
async fn start_checkout(
    state: &PaymentsState,
    organization_id: &OrganizationId,
    provider: ProviderName,
    cycle: CycleRow,
    key: Option<String>,
) -> Result<PaymentCheckout, ApiError> {
    let db = &state.keys.db;
    let email = identity_store::organization_by_id(db.pool(), organization_id)
        .await?
        .and_then(|o| o.billing_email);
    let checkout_request = CheckoutRequest {
        billing_cycle_id: cycle.id.clone(),
        organization_id: organization_id.clone(),
        period: cycle.period.clone(),
        amount: cycle.amount,
        currency: cycle.currency.clone(),
        email: email.unwrap_or_default(),
        idempotency_key: key
            .map(|key| format!("{}-{key}", cycle.id))
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string()),
    };
    let checkout = state
        .providers
        .checkout(provider, &checkout_request)
        .await
        .map_err(|error| {
            tracing::warn!(
                provider = provider.as_str(),
                error = format!("{error:#}"),
                "checkout failed"
            );
            ApiError::ServiceUnavailable {
                message: format!(
                    "{} did not start the checkout; try again",
                    provider.as_str()
                ),
                details: None,
            }
        })?;
    store::insert_payment(
        db.pool(),
        &NewPayment {
            organization_id,
            billing_cycle_id: &cycle.id,
            provider,
            reference: &checkout.reference,
            checkout_url: Some(&checkout.url),
            amount: cycle.amount,
            currency: &cycle.currency,
            status: PaymentStatus::Initiated,
        },
    )
    .await?;
    Ok(PaymentCheckout {
        provider: provider.as_str().into(),
        checkout_url: checkout.url,
        reference: checkout.reference,
        amount: cycle.amount,
        currency: cycle.currency,
    })
}
