//! `POST /messages/send` and `GET /messages/{id}`, with an API key.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use landlord_core::db::now_millis;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::extract::parse_json;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::idempotency::{self, Claim};
use landlord_core::time::{rfc3339, rfc3339_opt};
use landlord_core::{ApiError, Db};
use landlord_keys::ApiKeyContext;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Notify;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::DELIVER_JOB;

const MAX_BODY_CHARS: usize = 10_000;
const MAX_SUBJECT_CHARS: usize = 998;

#[derive(Clone)]
pub struct MessagesState {
    pub db: Db,
    pub jobs: Arc<Notify>,
}

pub fn router() -> OpenApiRouter<MessagesState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(get_message))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SendMessageRequest {
    pub channel: Channel,
    /// An email address, or a phone number in E.164 (`+14155550123`).
    pub to: String,
    /// Required for email.
    pub subject: Option<String>,
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    pub channel: String,
    pub to: String,
    pub subject: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    /// Why the last delivery attempt failed.
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    channel: String,
    recipient: String,
    subject: Option<String>,
    status: String,
    failure_reason: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

impl From<MessageRow> for MessageView {
    fn from(row: MessageRow) -> Self {
        Self {
            id: row.id,
            channel: row.channel,
            to: row.recipient,
            subject: row.subject,
            status: row.status,
            failure_reason: row.failure_reason,
            created_at: rfc3339(row.created_at),
            sent_at: rfc3339_opt(row.sent_at),
        }
    }
}

/// E.164: a plus, then 2 to 15 digits, the first not zero.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

fn validate(request: &SendMessageRequest) -> Result<(String, Option<String>), ApiError> {
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
    post, path = "/messages/send", tag = "messages",
    security(("api_key" = [])),
    request_body = SendMessageRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe for 24 hours")),
    responses(
        (status = 202, description = "Queued", body = Envelope<MessageView>),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked key", body = ErrorEnvelope),
        (status = 409, description = "Idempotency-Key reused with another body", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
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
    let (recipient, subject) = validate(&request)?;
    let reservation = match idempotency::key_from(&headers)? {
        None => None,
        Some(idempotency_key) => {
            match idempotency::claim(
                &state.db,
                key.organization_id.as_str(),
                "POST /messages/send",
                &idempotency_key,
                &body,
            )
            .await?
            {
                Claim::Replay { status, body } => {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::ACCEPTED);
                    return Ok((status, axum::Json(body)).into_response());
                }
                Claim::New(reservation) => Some(reservation),
            }
        }
    };
    let created = queue_message(
        &state,
        &key,
        request.channel,
        &recipient,
        subject.as_deref(),
        &request.body,
    )
    .await;
    match (created, reservation) {
        (Ok(view), Some(reservation)) => {
            let body = serde_json::json!({ "success": true, "data": view });
            idempotency::complete(&state.db, reservation, 202, &body).await?;
            Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
        (Ok(view), None) => Ok(ApiSuccess::accepted(view).into_response()),
        (Err(error), reservation) => {
            if let Some(reservation) = reservation {
                idempotency::release(&state.db, reservation).await;
            }
            Err(error)
        }
    }
}

async fn queue_message(
    state: &MessagesState,
    key: &ApiKeyContext,
    channel: Channel,
    recipient: &str,
    subject: Option<&str>,
    body: &str,
) -> Result<MessageView, ApiError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_millis();
    let channel = match channel {
        Channel::Email => "email",
        Channel::Sms => "sms",
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO messages (id, organization_id, api_key_id, channel, recipient, subject, body, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $8)",
    )
    .bind(&id)
    .bind(&key.organization_id)
    .bind(&key.key_id)
    .bind(channel)
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    landlord_jobs::enqueue(
        &mut *tx,
        landlord_jobs::NewJob::new(DELIVER_JOB, serde_json::json!({ "message_id": id })),
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify_one();
    Ok(MessageView {
        id,
        channel: channel.into(),
        to: recipient.into(),
        subject: subject.map(String::from),
        status: "queued".into(),
        failure_reason: None,
        created_at: rfc3339(now),
        sent_at: None,
    })
}

/// A message's delivery status (API key, scope `messages:read`).
#[utoipa::path(
    get, path = "/messages/{id}", tag = "messages",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = Envelope<MessageView>),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked key", body = ErrorEnvelope),
        (status = 404, description = "No such message in this organization", body = ErrorEnvelope),
        (status = 429, description = "Rate limit or monthly quota reached, or too many invalid keys from this address", body = ErrorEnvelope),
    )
)]
pub async fn get_message(
    State(state): State<MessagesState>,
    Extension(key): Extension<ApiKeyContext>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<MessageView>, ApiError> {
    key.require_scope("messages:read")?;
    let row: Option<MessageRow> = sqlx::query_as(
        "SELECT id, channel, recipient, subject, status, failure_reason, created_at, sent_at \
         FROM messages WHERE organization_id = $1 AND id = $2",
    )
    .bind(&key.organization_id)
    .bind(&id)
    .fetch_optional(state.db.pool())
    .await?;
    let row = row.ok_or_else(|| ApiError::not_found("message"))?;
    Ok(ApiSuccess::ok(MessageView::from(row)))
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
