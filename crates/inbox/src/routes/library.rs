//! `/inbox/canned-responses`, `/inbox/templates`.

use crate::permissions::needs;
use crate::InboxState;
use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;

use crate::library::{
    self, CannedResponseRequest, CannedResponseView, TemplateRequest, TemplateView,
};
use crate::store;

/// Save a canned response under a short code (unique in the organization).
#[utoipa::path(
    post, path = "/api/v1/inbox/canned-responses", tag = "Inbox",
    security(("bearer" = [])),
    request_body = CannedResponseRequest,
    responses(
        (status = 201, description = "Saved", body = Envelope<CannedResponseView>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 409, description = "The short code is taken", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn add_canned_response(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    Json(body): Json<CannedResponseRequest>,
) -> Result<ApiSuccess<CannedResponseView>, ApiError> {
    Ok(ApiSuccess::created(
        library::add_canned_response(&state.identity, &user.organization_id, body).await?,
    ))
}

/// The organization's canned responses, by short code.
#[utoipa::path(
    get, path = "/api/v1/inbox/canned-responses", tag = "Inbox",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Canned responses", body = Envelope<Vec<CannedResponseView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
    )
)]
pub async fn canned_responses(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
) -> Result<ApiSuccess<Vec<CannedResponseView>>, ApiError> {
    let rows = store::canned_responses(state.db.pool(), &user.organization_id).await?;
    Ok(ApiSuccess::ok(
        rows.into_iter().map(CannedResponseView::new).collect(),
    ))
}

/// Delete a canned response.
#[utoipa::path(
    delete, path = "/api/v1/inbox/canned-responses/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The canned response's id")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<bool>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such canned response in this organization", body = ErrorEnvelope),
    )
)]
pub async fn delete_canned_response(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<bool>, ApiError> {
    library::delete_canned_response(&state.identity, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(true))
}

/// Record an approved template (name, language, body with `{{n}}`).
#[utoipa::path(
    post, path = "/api/v1/inbox/templates", tag = "Inbox",
    security(("bearer" = [])),
    request_body = TemplateRequest,
    responses(
        (status = 201, description = "Recorded", body = Envelope<TemplateView>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 409, description = "A template with this name and language exists", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
    )
)]
pub async fn add_template(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    Json(body): Json<TemplateRequest>,
) -> Result<ApiSuccess<TemplateView>, ApiError> {
    Ok(ApiSuccess::created(
        library::add_template(&state.identity, &user.organization_id, body).await?,
    ))
}

/// The organization's templates.
#[utoipa::path(
    get, path = "/api/v1/inbox/templates", tag = "Inbox",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Templates", body = Envelope<Vec<TemplateView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
    )
)]
pub async fn templates(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
) -> Result<ApiSuccess<Vec<TemplateView>>, ApiError> {
    let rows = store::templates(state.db.pool(), &user.organization_id).await?;
    Ok(ApiSuccess::ok(
        rows.into_iter().map(TemplateView::new).collect(),
    ))
}

/// Delete a template.
#[utoipa::path(
    delete, path = "/api/v1/inbox/templates/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<bool>),
        (status = 403, description = "Missing permission manage_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such template in this organization", body = ErrorEnvelope),
    )
)]
pub async fn delete_template(
    State(state): State<InboxState>,
    user: Authorized<needs::ManageInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<bool>, ApiError> {
    library::delete_template(&state.identity, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(true))
}
