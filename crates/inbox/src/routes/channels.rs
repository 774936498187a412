//! `/inbox/channels`: connecting WhatsApp numbers (owners and admins).

use crate::permissions::needs;
use crate::InboxState;
use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;

use crate::channels::{self, ChannelView, ConnectChannelRequest};
use crate::graph::ChannelCheck;

/// Connect a WhatsApp number. The answer gives the webhook URL to enter
/// in Meta's app settings; the secrets are never shown again.
#[utoipa::path(
    post, path = "/api/v1/inbox/channels", tag = "Inbox",
    security(("bearer" = [])),
    request_body = ConnectChannelRequest,
    responses(
        (status = 201, description = "Connected", body = Envelope<ChannelView>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 409, description = "The phone number id is connected already, or the organization has 20 channels", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid, or Meta refuses the access token or does not know the phone number id for it (`details.fields` names them)", body = ErrorEnvelope),
        (status = 503, description = "Meta could not be reached to check the credentials; nothing was saved", body = ErrorEnvelope),
    )
)]
pub async fn connect(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    client: ClientInfo,
    Json(body): Json<ConnectChannelRequest>,
) -> Result<ApiSuccess<ChannelView>, ApiError> {
    Ok(ApiSuccess::created(
        channels::connect(&state.identity, &state.graph, &user, &client, body).await?,
    ))
}

/// The organization's channels.
#[utoipa::path(
    get, path = "/api/v1/inbox/channels", tag = "Inbox",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Channels", body = Envelope<Vec<ChannelView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
) -> Result<ApiSuccess<Vec<ChannelView>>, ApiError> {
    let rows = crate::store::channels(state.db.pool(), &user.organization_id).await?;
    let public_url = &state.config.public_url;
    Ok(ApiSuccess::ok(
        rows.into_iter()
            .map(|r| ChannelView::new(r, public_url))
            .collect(),
    ))
}

/// One channel.
#[utoipa::path(
    get, path = "/api/v1/inbox/channels/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    responses(
        (status = 200, description = "The channel", body = Envelope<ChannelView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such channel in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ChannelView>, ApiError> {
    let row = channels::find(&state.identity, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(ChannelView::new(
        row,
        &state.config.public_url,
    )))
}

/// Test a channel's connection: asks Meta whether it accepts the number
/// and its access token. The answer is the outcome (`working`, `refused`
/// with the field to fix, or `unreachable`); nothing changes.
#[utoipa::path(
    post, path = "/api/v1/inbox/channels/{id}/check", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    responses(
        (status = 200, description = "What Meta said", body = Envelope<ChannelCheck>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such channel in this organization", body = ErrorEnvelope),
    )
)]
pub async fn check(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ChannelCheck>, ApiError> {
    Ok(ApiSuccess::ok(
        channels::check(&state.identity, &state.graph, &user.organization_id, &id).await?,
    ))
}

/// Disconnect a number, with its contacts, conversations and messages.
#[utoipa::path(
    delete, path = "/api/v1/inbox/channels/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The channel's id")),
    responses(
        (status = 200, description = "Disconnected; the channel as it was", body = Envelope<ChannelView>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such channel in this organization", body = ErrorEnvelope),
    )
)]
pub async fn disconnect(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ChannelView>, ApiError> {
    Ok(ApiSuccess::ok(
        channels::disconnect(&state.identity, &user, &client, &id).await?,
    ))
}
