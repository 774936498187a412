//! `/admin/webhook-events`: provider events that failed, and their replay.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::ids::WebhookEventId;
use landlord_core::{ApiError, Timestamp};
use landlord_payments::providers::ProviderName;
use landlord_payments::routes::PaymentsState;
use landlord_payments::store::{self as payments_store, EventRow, WebhookEventStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{PlatformAdmin, LIST_LIMIT};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// `failed`, `dead`, `processed` or `received`; default failed and dead.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEventView {
    pub id: WebhookEventId,
    pub provider: ProviderName,
    pub event_id: String,
    pub event_type: String,
    pub status: WebhookEventStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
}

impl From<EventRow> for WebhookEventView {
    fn from(r: EventRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            event_id: r.event_id,
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
        }
    }
}

/// Provider webhook events that failed or were dead-lettered.
#[utoipa::path(
    get, path = "/api/v1/admin/webhook-events", tag = "admin",
    security(("bearer" = [])),
    params(EventFilter),
    responses(
        (status = 200, description = "Events, newest first (at most 200)", body = Envelope<Vec<WebhookEventView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "Unknown `status`", body = ErrorEnvelope),
    )
)]
pub async fn webhook_events(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<EventFilter>,
) -> Result<ApiSuccess<Vec<WebhookEventView>>, ApiError> {
    Ok(ApiSuccess::ok(
        events(&state, filter.status.as_deref()).await?,
    ))
}

/// Events with `status` (`None`: failed and dead), newest first, at most
/// 200: `GET /admin/webhook-events` and the operator console alike.
pub async fn events(
    state: &PaymentsState,
    status: Option<&str>,
) -> Result<Vec<WebhookEventView>, ApiError> {
    use WebhookEventStatus::{Dead, Failed};
    let statuses = match status {
        None => vec![Failed, Dead],
        Some(text) => vec![WebhookEventStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_field("status", "must be failed, dead, processed or received")
        })?],
    };
    let rows = payments_store::events_with_status(&state.db, &statuses, LIST_LIMIT).await?;
    Ok(rows.into_iter().map(WebhookEventView::from).collect())
}

/// Process a failed or dead-lettered event again.
#[utoipa::path(
    post, path = "/api/v1/admin/webhook-events/{id}/replay", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Event id (ours)")),
    responses(
        (status = 202, description = "Queued again", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No failed or dead event with that id", body = ErrorEnvelope),
    )
)]
pub async fn replay(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    let id = replay_event(&state, &admin, &client, &id).await?;
    Ok(ApiSuccess::accepted(
        serde_json::json!({ "id": id, "status": "received" }),
    ))
}

/// Queues a failed or dead event again (audited as
/// `admin.webhook_replayed`); 404 for any other id. The API's replay and
/// the operator console's.
pub async fn replay_event(
    state: &PaymentsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    id: &str,
) -> Result<WebhookEventId, ApiError> {
    let not_found = || ApiError::not_found("failed or dead webhook event");
    let id = WebhookEventId::parse(id).ok_or_else(not_found)?;
    if !landlord_payments::replay_event(&state.db, &id)
        .await
        .map_err(ApiError::internal)?
    {
        return Err(not_found());
    }
    landlord_audit::record(
        state.db.pool(),
        admin
            .audit(client, "admin.webhook_replayed")
            .target("webhook_event", &id),
    )
    .await?;
    state.identity.jobs.notify_one();
    Ok(id)
}
