//! Issuing, listing and revoking keys.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ids::ApiKeyId;
use landlord_core::ApiError;
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions::{needs, Authorized};

use super::{key_not_found, CreateKeyRequest, CreatedKey, KeyView};
use crate::manage;
use crate::KeysState;

/// Create an API key. The secret is in this answer only.
#[utoipa::path(
    post, path = "/api/v1/keys", tag = "keys",
    security(("bearer" = [])),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created", body = Envelope<CreatedKey>),
        (status = 403, description = "Missing permission create_api_keys", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn create_key(
    State(state): State<KeysState>,
    user: Authorized<needs::CreateApiKeys>,
    client: ClientInfo,
    Json(body): Json<CreateKeyRequest>,
) -> Result<ApiSuccess<CreatedKey>, ApiError> {
    Ok(ApiSuccess::created(
        manage::create(&state, &user, &client, body).await?,
    ))
}

/// The organization's API keys, newest first.
#[utoipa::path(
    get, path = "/api/v1/keys", tag = "keys",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Keys; `meta.next_cursor` when more follow", body = Envelope<Vec<KeyView>>))
)]
pub async fn list_keys(
    State(state): State<KeysState>,
    user: Authorized<needs::ViewDashboard>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<KeyView>>, ApiError> {
    let page = query.page()?;
    let keys = manage::list(
        &state,
        &user.organization_id,
        None,
        page.cursor.as_deref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(keys, |k| k.id.to_string(), |k| k))
}

/// Revoke an API key, at once. Members may revoke only keys they created.
#[utoipa::path(
    delete, path = "/api/v1/keys/{id}", tag = "keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "Revoked", body = Envelope<KeyView>),
        (status = 403, description = "Someone else's key without permission revoke_any_api_key", body = ErrorEnvelope),
        (status = 404, description = "No such key in this organization", body = ErrorEnvelope),
    )
)]
pub async fn revoke_key(
    State(state): State<KeysState>,
    user: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<KeyView>, ApiError> {
    let id = ApiKeyId::parse(&id).ok_or_else(key_not_found)?;
    Ok(ApiSuccess::ok(
        manage::revoke(&state, &user, &client, &id).await?,
    ))
}
