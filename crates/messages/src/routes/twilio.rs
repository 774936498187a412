//! `POST /webhooks/twilio`: Twilio's message status callbacks. No session:
//! the `X-Twilio-Signature` proves them.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use super::MessagesState;
use crate::callbacks::{self, CallbackOutcome};
use crate::store::MessageDeliveryStatus;

/// The parameters of a status callback that Landlord reads (Twilio sends
/// more; every one is part of the signature).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // the document's shape only: the handler reads the raw form
pub struct TwilioStatusCallback {
    /// The message's SID (`SM…`).
    #[schema(rename = "MessageSid")]
    message_sid: String,
    /// `queued`, `sent`, `delivered`, `undelivered`, `failed`, …
    #[schema(rename = "MessageStatus")]
    message_status: String,
    /// Twilio's error code when the message failed.
    #[schema(rename = "ErrorCode")]
    error_code: Option<String>,
    #[schema(rename = "AccountSid")]
    account_sid: Option<String>,
    #[schema(rename = "From")]
    from: Option<String>,
    #[schema(rename = "To")]
    to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TwilioCallbackAck {
    pub received: bool,
    /// The message's status after this callback, when it moved; `null`
    /// for a repeat, a step backwards or an unknown message.
    pub status: Option<MessageDeliveryStatus>,
}

/// Twilio's status callback for a message sent through it, signed in
/// `X-Twilio-Signature` (base64 HMAC-SHA1 with the Auth Token of
/// `{public_url}/api/v1/webhooks/twilio?message_id=…` followed by the POST
/// parameters sorted by name). Moves the message forward only:
/// `delivered`, or `failed` on `failed`/`undelivered`; a repeat or a late
/// callback changes nothing.
#[utoipa::path(
    post, path = "/api/v1/webhooks/twilio", tag = "webhooks",
    params(
        ("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of the URL and the sorted parameters, keyed with the Auth Token"),
        ("message_id" = Option<String>, Query, description = "The message, as Landlord names it in each message's StatusCallback URL"),
    ),
    request_body(content = TwilioStatusCallback, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Received (moved forward, or nothing to change)", body = Envelope<TwilioCallbackAck>),
        (status = 400, description = "The signature is missing or wrong, or the body is not form-encoded", body = ErrorEnvelope),
        (status = 503, description = "Twilio is not configured on this server", body = ErrorEnvelope),
    )
)]
pub async fn twilio_status_callback(
    State(state): State<MessagesState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiSuccess<TwilioCallbackAck>, ApiError> {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok());
    let outcome = callbacks::twilio_status(&state, &path_and_query, signature, &body).await?;
    Ok(ApiSuccess::ok(TwilioCallbackAck {
        received: true,
        status: match outcome {
            CallbackOutcome::Moved(status) => Some(status),
            CallbackOutcome::Unchanged => None,
        },
    }))
}
