//! `POST /billing/initiate-payment` (`checkout`) and the provider webhooks
//! (`webhooks`).

mod checkout;
mod webhooks;

use landlord_keys::KeysState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::providers::Providers;

pub use checkout::{InitiatePaymentRequest, PaymentCheckout, CHECKOUTS_PER_MINUTE};
pub use webhooks::WebhookAck;

#[derive(Clone)]
pub struct PaymentsState {
    pub keys: KeysState,
    pub providers: Providers,
}

impl axum::extract::FromRef<PaymentsState> for landlord_identity::IdentityState {
    fn from_ref(state: &PaymentsState) -> Self {
        state.keys.identity.clone()
    }
}

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(checkout::initiate_payment))
        .routes(routes!(webhooks::stripe_webhook))
        .routes(routes!(webhooks::paystack_webhook))
}
