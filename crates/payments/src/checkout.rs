//! Starting a payment: the rules `POST /billing/initiate-payment` and the
//! console's pay button share. [`limit`] (5 checkouts a minute per
//! organization), [`payable`] (the provider is configured, the cycle is
//! the organization's and has something to pay), then [`start_checkout`]
//! (the provider's checkout, recorded as an initiated payment).

use landlord_billing::store::{self as billing_store, CycleRow};
use landlord_core::ids::{BillingCycleId, OrganizationId};
use landlord_core::ApiError;
use landlord_identity::store as identity_store;

use crate::providers::{CheckoutRequest, ProviderName};
use crate::routes::{PaymentCheckout, PaymentsState};
use crate::store::{self, NewPayment, PaymentStatus};

/// Checkouts per organization per minute (a sensitive route's budget).
pub const CHECKOUTS_PER_MINUTE: u32 = 5;

/// Counts a checkout against the organization's budget.
pub async fn limit(
    state: &PaymentsState,
    organization_id: &OrganizationId,
) -> Result<(), ApiError> {
    state
        .keys
        .limit(
            &format!("checkout:{organization_id}"),
            CHECKOUTS_PER_MINUTE,
            "payment checkouts",
        )
        .await
}

/// The provider (`stripe` or `paystack`, configured on this server) and
/// the organization's cycle `billing_cycle_id`, when it can be paid: 404
/// for another organization's or a malformed id, 409 when paid, void or
/// nothing to pay, 503 when the provider is not configured.
pub async fn payable(
    state: &PaymentsState,
    organization_id: &OrganizationId,
    provider: &str,
    billing_cycle_id: &str,
) -> Result<(ProviderName, CycleRow), ApiError> {
    let provider = ProviderName::parse(provider)
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
    let db = &state.db;
    let cycle_not_found = || ApiError::not_found("billing cycle");
    let cycle_id = BillingCycleId::parse(billing_cycle_id.trim()).ok_or_else(cycle_not_found)?;
    let cycle = billing_store::cycle_of(db.pool(), organization_id, &cycle_id)
        .await?
        .ok_or_else(cycle_not_found)?;
    if !cycle.status.is_payable() || cycle.amount <= 0 {
        return Err(ApiError::Conflict(format!(
            "this billing cycle is {} and has nothing to pay",
            cycle.status
        )));
    }
    Ok((provider, cycle))
}

/// Asks `provider` for a checkout of `cycle` and records the payment it
/// starts. The provider's idempotency key derives from the client's
/// (`key`), so a retry the provider sees twice starts one checkout.
pub async fn start_checkout(
    state: &PaymentsState,
    organization_id: &OrganizationId,
    provider: ProviderName,
    cycle: CycleRow,
    key: Option<String>,
) -> Result<PaymentCheckout, ApiError> {
    let db = &state.db;
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
