//! `/apps…`: the organization's own apps, as its developers manage them.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;

use crate::permissions::needs;
use crate::registry::{self, CreateAppRequest};
use crate::store;
use crate::views::{AppView, CreatedApp};
use crate::AppsState;

/// Create an app (a draft). A confidential client's secret is in the
/// answer and nowhere else.
#[utoipa::path(
    post, path = "/apps", tag = "Apps",
    security(("bearer" = [])),
    request_body = CreateAppRequest,
    responses(
        (status = 201, description = "Created; the secret is shown this once", body = Envelope<CreatedApp>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 409, description = "The slug is taken (or quarantined after another organization deleted its app)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`details.fields` names each)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    Json(body): Json<CreateAppRequest>,
) -> Result<ApiSuccess<CreatedApp>, ApiError> {
    Ok(ApiSuccess::created(
        registry::create(&state, &user.organization_id, &user.user_id, body).await?,
    ))
}

/// The organization's apps, newest first.
#[utoipa::path(
    get, path = "/apps", tag = "Apps",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization's apps", body = Envelope<Vec<AppView>>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
) -> Result<ApiSuccess<Vec<AppView>>, ApiError> {
    let rows = store::apps_of(state.db.pool(), &user.organization_id).await?;
    Ok(ApiSuccess::ok(rows.into_iter().map(AppView::new).collect()))
}
