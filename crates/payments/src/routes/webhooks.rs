//! The provider webhooks: signature checked on the raw body first, then the
//! event stored once and its processing queued.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::{ApiError, Timestamp};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::PaymentsState;
use crate::process::process_job;
use crate::providers::ProviderName;
use crate::signature::{verify_paystack, verify_stripe};
use crate::store;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    /// This event id was seen before; nothing changed.
    pub duplicate: bool,
}

fn refuse_signature(provider: &'static str, error: crate::signature::SignatureError) -> ApiError {
    // Nothing of an unsigned request is stored: only this counter moves.
    metrics::counter!("webhook_signature_failures_total", "provider" => provider).increment(1);
    ApiError::InvalidSignature(error.message().into())
}

/// Stores a verified event once and queues its processing.
async fn accept_event(
    state: &PaymentsState,
    provider: ProviderName,
    event_id: &str,
    event_type: &str,
    body: &[u8],
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let mut tx = state.db.begin().await?;
    let payload = String::from_utf8_lossy(body);
    let Some(id) = store::insert_event(&mut tx, provider, event_id, event_type, &payload).await?
    else {
        tx.commit().await?;
        return Ok(ApiSuccess::ok(WebhookAck {
            received: true,
            duplicate: true,
        }));
    };
    landlord_jobs::enqueue(&mut *tx, process_job(&id)).await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    metrics::counter!("webhook_events_received_total", "provider" => provider.as_str())
        .increment(1);
    Ok(ApiSuccess::ok(WebhookAck {
        received: true,
        duplicate: false,
    }))
}

fn webhook_secret(
    secret: &Option<landlord_core::Secret<String>>,
    provider: &str,
) -> Result<String, ApiError> {
    secret
        .as_ref()
        .map(|s| s.expose_str().to_string())
        .ok_or_else(|| ApiError::ServiceUnavailable {
            message: format!("{provider} webhooks are not configured on this server"),
            details: None,
        })
}

/// Stripe webhook: `Stripe-Signature` checked on the raw body (HMAC-SHA256,
/// 5-minute tolerance); events deduplicated by id.
#[utoipa::path(
    post, path = "/api/v1/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, pattern = r"^t=[0-9]+(,[a-z0-9]+=[0-9a-fA-F]+)+$", description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">` (several `v1` during a secret roll)")),
    request_body(content = Object, description = "A Stripe event", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (or a duplicate)", body = Envelope<WebhookAck>),
        (status = 400, description = "Missing, wrong or stale signature", body = ErrorEnvelope),
    )
)]
pub async fn stripe_webhook(
    State(state): State<PaymentsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let secret = webhook_secret(&state.config.stripe_webhook_secret, "stripe")?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    verify_stripe(header, &body, &secret, Timestamp::now().millis() / 1000)
        .map_err(|e| refuse_signature("stripe", e))?;
    let event: Value = parse_json(&body)?;
    let event_id = event["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_field("id", "is required"))?;
    let event_type = event["type"].as_str().unwrap_or("");
    accept_event(&state, ProviderName::Stripe, event_id, event_type, &body).await
}

/// Paystack webhook: `x-paystack-signature` checked on the raw body
/// (HMAC-SHA512 with the secret key); deduplicated on the event and the
/// transaction id (Paystack events carry no id of their own).
#[utoipa::path(
    post, path = "/api/v1/webhooks/paystack", tag = "webhooks",
    params(("x-paystack-signature" = String, Header, pattern = "^[0-9a-f]{128}$", description = "Hex HMAC-SHA512 of the raw body with the secret key")),
    request_body(content = Object, description = "A Paystack event", content_type = "application/json"),
    responses(
        (status = 200, description = "Received (or a duplicate)", body = Envelope<WebhookAck>),
        (status = 400, description = "Missing or wrong signature", body = ErrorEnvelope),
    )
)]
pub async fn paystack_webhook(
    State(state): State<PaymentsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<WebhookAck>, ApiError> {
    let secret = webhook_secret(&state.config.paystack_secret_key, "paystack")?;
    let header = headers
        .get("x-paystack-signature")
        .and_then(|v| v.to_str().ok());
    verify_paystack(header, &body, &secret).map_err(|e| refuse_signature("paystack", e))?;
    let event: Value = parse_json(&body)?;
    let event_type = event["event"].as_str().unwrap_or("");
    let data_id = match &event["data"]["id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => event["data"]["reference"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    };
    if event_type.is_empty() || data_id.is_empty() {
        return Err(ApiError::invalid_field(
            "data",
            "needs event and data.id or data.reference",
        ));
    }
    accept_event(
        &state,
        ProviderName::Paystack,
        &format!("{event_type}:{data_id}"),
        event_type,
        &body,
    )
    .await
}
