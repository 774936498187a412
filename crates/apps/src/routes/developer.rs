//! `/apps…`: the organization's own apps, as its developers manage them.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;

use crate::permissions::needs;
use crate::registry::{self, CreateAppRequest, UpdateAppRequest};
use crate::store;
use crate::views::{AppView, CreatedApp, DeletedApp, RotatedGatewaySecret, RotatedSecret};
use crate::AppsState;

/// Create an app (a draft). A confidential client's secret is in the
/// answer and nowhere else.
#[utoipa::path(
    post, path = "/api/v1/apps", tag = "Apps",
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
    client: ClientInfo,
    Json(body): Json<CreateAppRequest>,
) -> Result<ApiSuccess<CreatedApp>, ApiError> {
    Ok(ApiSuccess::created(
        registry::create_by(&state, &user, &client, body).await?,
    ))
}

/// The organization's apps, newest first.
#[utoipa::path(
    get, path = "/api/v1/apps", tag = "Apps",
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

/// One of the organization's apps.
#[utoipa::path(
    get, path = "/api/v1/apps/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "The app", body = Envelope<AppView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    let row = registry::own(&state, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(AppView::new(row)))
}

/// Change an app: the fields sent, with the same rules as at creation.
/// Its status stays (a published app stays published); a new slug keeps
/// the old one reserved for this organization, as a deletion does.
#[utoipa::path(
    patch, path = "/api/v1/apps/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    request_body = UpdateAppRequest,
    responses(
        (status = 200, description = "The app, changed", body = Envelope<AppView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
        (status = 409, description = "The new slug is taken (or quarantined after another organization deleted its app)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`details.fields` names each)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<UpdateAppRequest>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    Ok(ApiSuccess::ok(
        registry::update(&state, &user, &client, &id, body).await?,
    ))
}

/// Delete an app: its tokens, codes, consents and installations go with
/// it. Its slug stays reserved for this organization for
/// `apps.slug_quarantine_days` (30 by default): no other organization
/// takes over its subdomain meanwhile.
#[utoipa::path(
    delete, path = "/api/v1/apps/{id}", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "Deleted; the app as it was", body = Envelope<DeletedApp>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<DeletedApp>, ApiError> {
    Ok(ApiSuccess::ok(
        registry::delete(&state, &user, &client, &id).await?,
    ))
}

/// Rotate a confidential client's secret: the new one is in the answer and
/// nowhere else; the old one stops working at once.
#[utoipa::path(
    post, path = "/api/v1/apps/{id}/rotate-secret", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = Envelope<RotatedSecret>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
        (status = 409, description = "A public client has no secret", body = ErrorEnvelope),
    )
)]
pub async fn rotate_secret(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<RotatedSecret>, ApiError> {
    Ok(ApiSuccess::ok(
        registry::rotate_secret(&state, &user, &client, &id).await?,
    ))
}

/// Rotate the app's gateway signing secret: the new one is in the answer
/// and nowhere else; the previous one keeps signing beside it for
/// `apps.gateway_secret_overlap_hours`.
#[utoipa::path(
    post, path = "/api/v1/apps/{id}/rotate-gateway-secret", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "The new gateway secret, shown this once", body = Envelope<RotatedGatewaySecret>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
    )
)]
pub async fn rotate_gateway_secret(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<RotatedGatewaySecret>, ApiError> {
    Ok(ApiSuccess::ok(
        crate::gateway::signature::rotate(&state, &user, &client, &id).await?,
    ))
}

/// Submit a draft for review by the platform's administrators. It needs at
/// least one redirect URI.
#[utoipa::path(
    post, path = "/api/v1/apps/{id}/submit", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "The app, in review", body = Envelope<AppView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
        (status = 409, description = "Not a draft, or no redirect URI yet (the message says which)", body = ErrorEnvelope),
    )
)]
pub async fn submit(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    Ok(ApiSuccess::ok(
        registry::submit(&state, &user, &client, &id).await?,
    ))
}

/// An app's traffic through the gateway per day (UTC), oldest first:
/// requests, errors (5xx, the gateway's own 502 and 504 included), mean
/// and highest latency. Days without requests have zeros.
#[utoipa::path(
    get, path = "/api/v1/apps/{id}/traffic", tag = "Apps",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The app's id (its client_id)"),
        crate::traffic::TrafficQuery,
    ),
    responses(
        (status = 200, description = "The app's traffic per day", body = Envelope<crate::traffic::AppTrafficView>),
        (status = 403, description = "Missing permission manage_apps", body = ErrorEnvelope),
        (status = 404, description = "No such app in this organization", body = ErrorEnvelope),
        (status = 422, description = "`days` is not from 1 to 90", body = ErrorEnvelope),
    )
)]
pub async fn traffic(
    State(state): State<AppsState>,
    user: Authorized<needs::ManageApps>,
    Path(id): Path<String>,
    landlord_core::http::Query(query): landlord_core::http::Query<crate::traffic::TrafficQuery>,
) -> Result<ApiSuccess<crate::traffic::AppTrafficView>, ApiError> {
    let days = crate::traffic::days_of(&query)?;
    Ok(ApiSuccess::ok(
        crate::traffic::of_app(&state, &user.organization_id, &id, days).await?,
    ))
}
