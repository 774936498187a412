//! `/webhooks/endpoints`: an organization's endpoints (owners and admins;
//! the secret after creation to owners only), the attempt log, resend,
//! recover and test messages. Thin: each handler calls [`crate::manage`].

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ids::{EventId, WebhookAttemptId};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::IdentityState;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::manage::{
    self, AttemptView, CreateEndpointRequest, CreatedEndpoint, EndpointView, QueuedMessage,
    RecoverRequest, RecoverView, SecretView, UpdateEndpointRequest,
};
use crate::store::AttemptFilter;

/// Create an endpoint. Its secret is in this answer (and later shown to
/// owners only).
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    request_body = CreateEndpointRequest,
    responses(
        (status = 201, description = "Created, with its secret", body = Envelope<CreatedEndpoint>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 409, description = "The organization has the most endpoints allowed (20)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid: the URL is not https, or resolves to a private address, or an event type is unknown (`details.fields` names them)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Json(body): Json<CreateEndpointRequest>,
) -> Result<ApiSuccess<CreatedEndpoint>, ApiError> {
    Ok(ApiSuccess::created(
        manage::create(&state, &user, &client, body).await?,
    ))
}

/// The organization's endpoints, newest first.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Endpoints; `meta.next_cursor` when more follow", body = Envelope<Vec<EndpointView>>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<EndpointView>>, ApiError> {
    let page = query.page()?;
    let rows = manage::list(
        &state,
        &user.organization_id,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), EndpointView::new))
}

/// One endpoint.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints/{id}", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint", body = Envelope<EndpointView>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<EndpointView>, ApiError> {
    let row = manage::find_row(&state, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(EndpointView::new(row)))
}

/// Change an endpoint: URL, description, event types, enabled.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/endpoints/{id}", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = UpdateEndpointRequest,
    responses(
        (status = 200, description = "The endpoint as changed", body = Envelope<EndpointView>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`details.fields` names them)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<UpdateEndpointRequest>,
) -> Result<ApiSuccess<EndpointView>, ApiError> {
    Ok(ApiSuccess::ok(
        manage::update(&state, &user, &client, &id, body).await?,
    ))
}

/// Delete an endpoint with its deliveries and attempt log.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/endpoints/{id}", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "Deleted; the endpoint as it was", body = Envelope<EndpointView>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<EndpointView>, ApiError> {
    Ok(ApiSuccess::ok(
        manage::delete(&state, &user, &client, &id).await?,
    ))
}

/// The endpoint's signing secret (and the previous one during a
/// rotation's 24 hours). Owners only.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints/{id}/secret", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The secrets", body = Envelope<SecretView>),
        (status = 403, description = "Missing permission view_webhook_secrets (owners)", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
    )
)]
pub async fn secret(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewWebhookSecrets>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<SecretView>, ApiError> {
    Ok(ApiSuccess::ok(
        manage::secret(&state, &user, &client, &id).await?,
    ))
}

/// Rotate the secret: a new one signs from now on, and the old one signs
/// beside it for 24 hours (two signatures in `webhook-signature`). Owners
/// only.
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints/{id}/rotate-secret", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The new secret and the previous one", body = Envelope<SecretView>),
        (status = 403, description = "Missing permission view_webhook_secrets (owners)", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
    )
)]
pub async fn rotate_secret(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewWebhookSecrets>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<SecretView>, ApiError> {
    Ok(ApiSuccess::ok(
        manage::rotate(&state, &user, &client, &id).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
    /// Only the attempts of this message.
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub message_id: Option<String>,
    /// Only successes (true) or failures (false).
    pub succeeded: Option<bool>,
}

/// The endpoint's attempts, newest first: status, duration and the
/// answer's first 4 KiB.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints/{id}/attempts", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id"), AttemptsQuery),
    responses(
        (status = 200, description = "Attempts; `meta.next_cursor` when more follow", body = Envelope<Vec<AttemptView>>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
        (status = 422, description = "A parameter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn attempts(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    Path(id): Path<String>,
    Query(query): Query<AttemptsQuery>,
) -> Result<ApiSuccess<Vec<AttemptView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .page()?;
    let message_id = match query.message_id.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            EventId::parse(text)
                .ok_or_else(|| ApiError::invalid_field("message_id", "is not a message id"))?,
        ),
    };
    let before = page.cursor.as_deref().map(WebhookAttemptId::from_trusted);
    let rows = manage::attempts(
        &state,
        &user.organization_id,
        &id,
        AttemptFilter {
            event_id: message_id.as_ref(),
            succeeded: query.succeeded,
            before: before.as_ref(),
            limit: page.fetch(),
        },
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), AttemptView::new))
}

/// Send a message to the endpoint again, now, with the same `webhook-id`.
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints/{id}/messages/{message_id}/resend", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("message_id" = String, Path, description = "The message's id (an event id of this organization)"),
    ),
    responses(
        (status = 202, description = "Queued", body = Envelope<QueuedMessage>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint or message in this organization", body = ErrorEnvelope),
        (status = 409, description = "The endpoint is disabled", body = ErrorEnvelope),
    )
)]
pub async fn resend(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Path((id, message_id)): Path<(String, String)>,
) -> Result<ApiSuccess<QueuedMessage>, ApiError> {
    Ok(ApiSuccess::accepted(
        manage::resend(&state, &user, &client, &id, &message_id).await?,
    ))
}

/// Resend every message whose delivery to the endpoint failed since a
/// time (at most 1,000 per call; `more` says whether to call again).
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints/{id}/recover", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = RecoverRequest,
    responses(
        (status = 202, description = "Queued", body = Envelope<RecoverView>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
        (status = 409, description = "The endpoint is disabled", body = ErrorEnvelope),
        (status = 422, description = "`since` is not an RFC 3339 time", body = ErrorEnvelope),
    )
)]
pub async fn recover(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<RecoverRequest>,
) -> Result<ApiSuccess<RecoverView>, ApiError> {
    Ok(ApiSuccess::accepted(
        manage::recover(&state, &user, &client, &id, &body.since).await?,
    ))
}

/// Send a `webhook.test` message to this endpoint only.
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints/{id}/test", tag = "Outgoing webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "Queued", body = Envelope<QueuedMessage>),
        (status = 403, description = "Missing permission manage_webhooks", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint in this organization", body = ErrorEnvelope),
        (status = 409, description = "The endpoint is disabled", body = ErrorEnvelope),
    )
)]
pub async fn send_test(
    State(state): State<IdentityState>,
    user: Authorized<needs::ManageWebhooks>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<QueuedMessage>, ApiError> {
    Ok(ApiSuccess::accepted(
        manage::send_test(&state, &user, &client, &id).await?,
    ))
}
