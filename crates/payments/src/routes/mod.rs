//! `POST /billing/initiate-payment` (`checkout`) and the provider webhooks
//! (`webhooks`).

mod checkout;
mod webhooks;

use std::sync::Arc;

use landlord_billing::BillingState;
use landlord_core::{Config, Db};
use landlord_identity::IdentityState;
use landlord_keys::KeysState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::providers::Providers;

pub use crate::checkout::CHECKOUTS_PER_MINUTE;
pub use checkout::{InitiatePaymentRequest, PaymentCheckout};
pub use webhooks::WebhookAck;

/// What the payment and admin routes need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct PaymentsState(Arc<PaymentsInner>);

/// The services behind [`PaymentsState`], reached through `Deref`.
pub struct PaymentsInner {
    pub db: Db,
    pub config: Arc<Config>,
    /// Sessions, and the job queue's waker.
    pub identity: IdentityState,
    /// The keys feature's services: the checkout's rate limit.
    pub keys: KeysState,
    /// Billing's rules: the period so far, plan changes.
    pub billing: BillingState,
    pub providers: Providers,
}

impl PaymentsState {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        identity: IdentityState,
        keys: KeysState,
        billing: BillingState,
        providers: Providers,
    ) -> Self {
        Self(Arc::new(PaymentsInner {
            db,
            config,
            identity,
            keys,
            billing,
            providers,
        }))
    }
}

impl std::ops::Deref for PaymentsState {
    type Target = PaymentsInner;

    fn deref(&self) -> &PaymentsInner {
        &self.0
    }
}

impl axum::extract::FromRef<PaymentsState> for landlord_identity::IdentityState {
    fn from_ref(state: &PaymentsState) -> Self {
        state.identity.clone()
    }
}

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(checkout::initiate_payment))
        .routes(routes!(webhooks::stripe_webhook))
        .routes(routes!(webhooks::paystack_webhook))
}
