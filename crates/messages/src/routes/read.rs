//! `GET /messages/{id}`: a message's delivery status.

use axum::extract::{Extension, Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ids::MessageId;
use landlord_core::ApiError;
use landlord_keys::ApiKeyContext;

use super::{MessageDeliveryView, MessagesState};
use crate::store;

/// A message's delivery status (API key, scope `messages:read`).
#[utoipa::path(
    get, path = "/api/v1/messages/{id}", tag = "messages",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = Envelope<MessageDeliveryView>),
        (status = 401, description = "Missing, malformed, unknown, expired or revoked key", body = ErrorEnvelope),
        (status = 404, description = "No such message in this organization", body = ErrorEnvelope),
        (status = 429, description = "Rate limit or monthly quota reached, or too many invalid keys from this address", body = ErrorEnvelope),
    )
)]
pub async fn get_message(
    State(state): State<MessagesState>,
    Extension(key): Extension<ApiKeyContext>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<MessageDeliveryView>, ApiError> {
    key.require_scope("messages:read")?;
    let id = MessageId::parse(&id).ok_or_else(message_not_found)?;
    let message = store::read_by_id(&state.db, key.organization_id(), &id)
        .await?
        .ok_or_else(message_not_found)?;
    Ok(ApiSuccess::ok(MessageDeliveryView::from(message)))
}

fn message_not_found() -> ApiError {
    ApiError::not_found("message")
}
