//! `POST /messages/send`: queue an email or SMS.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::idempotency::{idempotent, Scope};
use landlord_core::ids::MessageId;
use landlord_core::{ApiError, Timestamp};
use landlord_keys::ApiKeyContext;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{MessageDeliveryView, MessagesState};
use crate::sms::Availability;
use crate::store::{self, Channel, MessageRow, MessageStatus, NewMessage};
use crate::DELIVER_JOB;

const MAX_BODY_CHARS: usize = 10_000;
const MAX_SUBJECT_CHARS: usize = 998;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendMessageRequest {
    pub channel: Channel,
    /// An email address, or a phone number in E.164 (`+14155550123`).
    pub to: String,
    /// Required for email.
    pub subject: Option<String>,
    pub body: String,
}

/// E.164: a plus, then 2 to 15 digits, the first not zero.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

fn validate(
    request: &SendMessageRequest,
    channels: Availability,
) -> Result<(String, Option<String>), ApiError> {
    // Nothing is taken that this server cannot deliver: outside
    // development, a channel without its provider is refused.
    let available = match request.channel {
        Channel::Email => channels.email,
        Channel::Sms => channels.sms,
    };
    if !available {
        return Err(ApiError::invalid_field(
            "channel",
            format!("{} is not configured on this server", request.channel),
        ));
    }
    let to = request.to.trim();
    let recipient = match request.channel {
        Channel::Email => {
            if to.len() > 254 || to.parse::<lettre::Address>().is_err() {
                return Err(ApiError::invalid_field(
                    "to",
                    "is not a valid email address",
                ));
            }
            to.to_lowercase()
        }
        Channel::Sms => {
            if !is_e164(to) {
                return Err(ApiError::invalid_field(
                    "to",
                    "is not a phone number in E.164 format, such as +14155550123",
                ));
            }
            to.to_string()
        }
    };
    let subject = request
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if request.channel == Channel::Email && subject.is_none() {
        return Err(ApiError::invalid_field("subject", "is required for email"));
    }
    if subject.is_some_and(|s| s.chars().count() > MAX_SUBJECT_CHARS || s.contains(['\r', '\n'])) {
        return Err(ApiError::invalid_field(
            "subject",
            "must be one line of at most 998 characters",
        ));
    }
    if request.body.trim().is_empty() {
        return Err(ApiError::invalid_field("body", "is required"));
    }
    if request.body.chars().count() > MAX_BODY_CHARS {
        return Err(ApiError::invalid_field(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok((recipient, subject.map(String::from)))
}

/// Queue an email or SMS for delivery (API key, scope `messages:send`).
///
/// Send an `Idempotency-Key` header to make retries safe: within 24 hours
/// the same key and body answer the first answer again; the same key with
/// another body answers 409 IDEMPOTENCY_CONFLICT.
#[utoipa::path(
    post, path = "/api/v1/messages/send", tag = "messages",
    security(("api_key" = [])),
    request_body = SendMessageRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for 24 hours")),
    responses(
        (status = 202, description = "Queued", body = Envelope<MessageDeliveryView>),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked key", body = ErrorEnvelope),
        (status = 409, description = "Idempotency-Key reused with another body", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid, or the channel is not configured on this server (`channel`: no SMTP server or SMS provider outside development)", body = ErrorEnvelope),
        (status = 429, description = "Rate limit or monthly quota reached, or too many invalid keys from this address", body = ErrorEnvelope),
    )
)]
pub async fn send_message(
    State(state): State<MessagesState>,
    Extension(key): Extension<ApiKeyContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    key.require_scope("messages:send")?;
    let content_type_ok = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !content_type_ok {
        return Err(ApiError::bad_request(
            "the request body must be JSON, sent with Content-Type: application/json",
        ));
    }
    let request: SendMessageRequest = parse_json(&body)?;
    let (recipient, subject) = validate(&request, state.channels)?;
    let scope = Scope {
        organization_id: key.organization_id(),
        route: "POST /messages/send",
    };
    idempotent(&state.db, scope, &headers, &body, |_| async {
        let message = queue_message(
            &state,
            &key,
            request.channel,
            &recipient,
            subject.as_deref(),
            &request.body,
        )
        .await?;
        Ok(ApiSuccess::accepted(MessageDeliveryView::from(message)))
    })
    .await
}

/// Stores the message as `queued` and its delivery job, together.
async fn queue_message(
    state: &MessagesState,
    key: &ApiKeyContext,
    channel: Channel,
    recipient: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<MessageRow, ApiError> {
    let id = MessageId::generate();
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    store::insert_queued(
        &mut *tx,
        NewMessage {
            id: &id,
            organization_id: key.organization_id(),
            api_key_id: key.key_id(),
            channel,
            recipient,
            subject,
            body,
            created_at: now,
        },
    )
    .await?;
    landlord_jobs::enqueue(
        &mut *tx,
        landlord_jobs::NewJob::new(DELIVER_JOB, serde_json::json!({ "message_id": id })),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(MessageRow {
        id,
        channel,
        recipient: recipient.into(),
        subject: subject.map(String::from),
        status: MessageStatus::Queued,
        failure_reason: None,
        created_at: now,
        sent_at: None,
        provider: None,
        provider_message_id: None,
        delivered_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        assert!(is_e164("+14155550123"));
        assert!(is_e164("+2348012345678"));
        assert!(!is_e164("14155550123"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+1415555012345678"));
        assert!(!is_e164("+1 415 555"));
    }
}
