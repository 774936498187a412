//! `/inbox/webhooks/whatsapp/{channel}`: what Meta calls. No session: the
//! verify token (GET) and the signature of the raw body (POST) prove it.

use crate::InboxState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::inbound;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Handshake {
    /// `subscribe`.
    #[serde(rename = "hub.mode")]
    #[param(rename = "hub.mode")]
    pub mode: Option<String>,
    /// The channel's verify token.
    #[serde(rename = "hub.verify_token")]
    #[param(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    /// Echoed back when the token matches.
    #[serde(rename = "hub.challenge")]
    #[param(rename = "hub.challenge", max_length = 256)]
    pub challenge: Option<String>,
}

/// Meta's verification request: echoes `hub.challenge` (as text) when
/// `hub.mode` is `subscribe` and `hub.verify_token` is the channel's.
#[utoipa::path(
    get, path = "/api/v1/inbox/webhooks/whatsapp/{channel}", tag = "Inbox",
    params(("channel" = String, Path, description = "The channel's id"), Handshake),
    responses(
        (status = 200, description = "The challenge, as text/plain", body = String, content_type = "text/plain"),
        (status = 403, description = "The mode or verify token does not match", body = ErrorEnvelope),
        (status = 404, description = "No such channel", body = ErrorEnvelope),
    )
)]
pub async fn handshake(
    State(state): State<InboxState>,
    Path(channel): Path<String>,
    Query(query): Query<Handshake>,
) -> Result<String, ApiError> {
    inbound::verify_subscription(
        &state.identity,
        &channel,
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    pub received: bool,
}

/// A notification from Meta (incoming messages, status callbacks),
/// signed with the app secret in `X-Hub-Signature-256`. Answers at once;
/// the notification is processed by a job.
#[utoipa::path(
    post, path = "/api/v1/inbox/webhooks/whatsapp/{channel}", tag = "Inbox",
    params(
        ("channel" = String, Path, description = "The channel's id"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` + hex HMAC-SHA256 of the raw body with the app secret"),
    ),
    request_body(content = Object, description = "Meta's notification: `{\"object\": \"whatsapp_business_account\", \"entry\": […]}`"),
    responses(
        (status = 200, description = "Accepted for processing", body = Envelope<Received>),
        (status = 400, description = "Signed, but not a WhatsApp notification", body = ErrorEnvelope),
        (status = 401, description = "The signature is missing or wrong (counted, nothing stored)", body = ErrorEnvelope),
        (status = 404, description = "No such channel", body = ErrorEnvelope),
    )
)]
pub async fn notification(
    State(state): State<InboxState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<Received>, ApiError> {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    inbound::receive(&state.identity, &channel, signature, &body).await?;
    Ok(ApiSuccess::ok(Received { received: true }))
}
