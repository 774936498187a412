//! `/installations…`: the apps installed into the organization.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;

use crate::installations::{self, InstallRequest, InstallationView, UpdateInstallationRequest};
use crate::permissions::needs;
use crate::AppsState;

/// Install a published app into the organization, consenting to the
/// organization scopes listed (each one the app asks for). The app is
/// sent `app.installed` at its webhook address.
#[utoipa::path(
    post, path = "/api/v1/installations", tag = "Apps",
    security(("bearer" = [])),
    request_body = InstallRequest,
    responses(
        (status = 201, description = "Installed", body = Envelope<InstallationView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission install_apps", body = ErrorEnvelope),
        (status = 404, description = "No published app has this id", body = ErrorEnvelope),
        (status = 409, description = "The app is installed in this organization already", body = ErrorEnvelope),
        (status = 422, description = "A scope is not one the app asks for (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn install(
    State(state): State<AppsState>,
    user: Authorized<needs::InstallApps>,
    client: ClientInfo,
    Json(body): Json<InstallRequest>,
) -> Result<ApiSuccess<InstallationView>, ApiError> {
    Ok(ApiSuccess::created(
        installations::install(&state, &user, &client, &body).await?,
    ))
}

/// The apps installed in the organization, newest first.
#[utoipa::path(
    get, path = "/api/v1/installations", tag = "Apps",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Installations; `meta.next_cursor` when more follow", body = Envelope<Vec<InstallationView>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_installed_apps", body = ErrorEnvelope),
        (status = 422, description = "A parameter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    user: Authorized<needs::ViewInstalledApps>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<InstallationView>>, ApiError> {
    let (views, meta) = installations::list(&state, &user.organization_id, &query).await?;
    Ok(ApiSuccess::ok(views).with_meta(meta))
}

/// One installation of the organization (an uninstalled one too, with
/// `uninstalled_at`).
#[utoipa::path(
    get, path = "/api/v1/installations/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "The installation", body = Envelope<InstallationView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_installed_apps", body = ErrorEnvelope),
        (status = 404, description = "No such installation in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppsState>,
    user: Authorized<needs::ViewInstalledApps>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<InstallationView>, ApiError> {
    let (row, app) = installations::find(&state, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(InstallationView::new(row, &app)))
}

/// Change the scopes the installation holds. Adding scopes sends the app
/// `app.scopes_accepted`; removing some revokes its current tokens.
#[utoipa::path(
    patch, path = "/api/v1/installations/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The installation's id")),
    request_body = UpdateInstallationRequest,
    responses(
        (status = 200, description = "Changed", body = Envelope<InstallationView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission install_apps", body = ErrorEnvelope),
        (status = 404, description = "No such installed app in this organization", body = ErrorEnvelope),
        (status = 422, description = "A scope is not one the app asks for (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppsState>,
    user: Authorized<needs::InstallApps>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<UpdateInstallationRequest>,
) -> Result<ApiSuccess<InstallationView>, ApiError> {
    Ok(ApiSuccess::ok(
        installations::update_scopes(&state, &user, &client, &id, &body).await?,
    ))
}

/// Uninstall the app: every token of the installation is revoked at
/// once, then the app is sent `app.uninstalled`.
#[utoipa::path(
    delete, path = "/api/v1/installations/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The installation's id")),
    responses(
        (status = 200, description = "Uninstalled; the installation as it ended", body = Envelope<InstallationView>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Missing permission install_apps", body = ErrorEnvelope),
        (status = 404, description = "No such installed app in this organization", body = ErrorEnvelope),
    )
)]
pub async fn uninstall(
    State(state): State<AppsState>,
    user: Authorized<needs::InstallApps>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<InstallationView>, ApiError> {
    Ok(ApiSuccess::ok(
        installations::uninstall(&state, &user, &client, &id).await?,
    ))
}
