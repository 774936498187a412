//! `POST /mail/bounces`: the mail provider's bounce webhook. It is not an
//! operator's route: the provider calls it with the shared secret
//! `mail_bounce_secret`. Permanent bounces and complaints put the address
//! on the suppression list; transient bounces are ignored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use landlord_core::crypto::constant_time_eq;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use landlord_mail::suppression::{self, parse_notification, BounceNotice};
use landlord_payments::routes::PaymentsState;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// What the webhook did with a notification.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BounceOutcome {
    /// Addresses now suppressed (permanent bounces and complaints).
    pub suppressed: Vec<String>,
    /// Addresses that were suppressed already.
    pub already_suppressed: Vec<String>,
    /// Addresses of transient bounces, left alone.
    pub ignored: Vec<String>,
}

/// The secret the request carries: `X-Bounce-Secret`, or the password of
/// basic auth (what a provider sends for `https://user:secret@host/…`).
fn presented_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get("x-bounce-secret").and_then(|v| v.to_str().ok()) {
        return Some(value.to_string());
    }
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

/// Receive a bounce or complaint notification from the mail provider.
///
/// Accepts Landlord's JSON (the body schema), Postmark's bounce and spam
/// complaint webhooks, and Amazon SES notifications delivered by SNS.
#[utoipa::path(
    post, path = "/api/v1/mail/bounces", tag = "webhooks", operation_id = "mail_bounces",
    params(("X-Bounce-Secret" = Option<String>, Header, description = "The `mail_bounce_secret` setting (or give it as the basic-auth password)")),
    request_body(content = BounceNotice, description = "A bounce notification: Landlord's JSON, Postmark's or Amazon SES's (through SNS)", content_type = "application/json"),
    responses(
        (status = 200, description = "What was done with each address", body = Envelope<BounceOutcome>),
        (status = 400, description = "The body is not JSON", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong secret", body = ErrorEnvelope),
        (status = 404, description = "No `mail_bounce_secret` is configured: the webhook is off", body = ErrorEnvelope),
        (status = 422, description = "Not a bounce notification this webhook reads", body = ErrorEnvelope),
    )
)]
pub async fn bounces(
    State(state): State<PaymentsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<BounceOutcome>, ApiError> {
    let Some(secret) = state.config.mail_bounce_secret.as_ref() else {
        return Err(ApiError::not_found("bounce webhook"));
    };
    let presented = presented_secret(&headers).unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), secret.expose_str().as_bytes()) {
        metrics::counter!("webhook_signature_failures_total", "provider" => "mail_bounces")
            .increment(1);
        return Err(ApiError::Unauthorized(
            "missing or wrong bounce webhook secret".into(),
        ));
    }
    let notification: Value = parse_json(&body)?;
    if notification.get("Type").and_then(Value::as_str) == Some("SubscriptionConfirmation") {
        // Amazon SNS asks once to confirm the subscription: the operator
        // visits this address (Landlord makes no outgoing call for it).
        tracing::info!(
            subscribe_url = notification["SubscribeURL"].as_str().unwrap_or(""),
            "bounce webhook: an SNS subscription waits to be confirmed"
        );
    }
    let reports = parse_notification(&notification)
        .map_err(|refused| ApiError::invalid_field(refused.field, refused.message))?;
    let mut outcome = BounceOutcome::default();
    for report in reports {
        match report.reason() {
            None => outcome.ignored.push(report.address),
            Some(reason) => {
                let added = suppression::suppress(
                    &state.db,
                    &report.address,
                    reason,
                    None,
                    report.description.clone(),
                    "webhook",
                )
                .await?;
                if added {
                    outcome.suppressed.push(report.address);
                } else {
                    outcome.already_suppressed.push(report.address);
                }
            }
        }
    }
    Ok(ApiSuccess::ok(outcome))
}
