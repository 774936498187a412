//! `/admin/apps…`: platform administrators review every organization's
//! apps.

use axum::extract::{Path, State};
use landlord_admin::PlatformAdmin;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json, PageQuery, Query};
use landlord_core::ApiError;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::ids::AppId;
use crate::review::{self, Decision};
use crate::store::{self, AppStatus};
use crate::views::AppView;
use crate::AppsState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdminAppsQuery {
    /// Only apps with this status (`in_review`: the review queue).
    pub status: Option<AppStatus>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// Every organization's apps, newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/apps", tag = "Apps",
    security(("bearer" = [])),
    params(AdminAppsQuery),
    responses(
        (status = 200, description = "Apps; `meta.next_cursor` pages on", body = Envelope<Vec<AppView>>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "A parameter is invalid", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    _admin: PlatformAdmin,
    Query(query): Query<AdminAppsQuery>,
) -> Result<ApiSuccess<Vec<AppView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let before = page.cursor.as_deref().map(AppId::from_trusted);
    let rows =
        store::all_apps(state.db.pool(), query.status, before.as_ref(), page.fetch()).await?;
    Ok(page.respond(rows, |r| r.id.to_string(), AppView::new))
}

/// Publish an app in review (or suspended): it enters the directory, and
/// `app.published` is recorded in its publisher's organization.
#[utoipa::path(
    post, path = "/api/v1/admin/apps/{id}/publish", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id")),
    responses(
        (status = 200, description = "The app, published", body = Envelope<AppView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such app", body = ErrorEnvelope),
        (status = 409, description = "The app is neither in review nor suspended", body = ErrorEnvelope),
    )
)]
pub async fn publish(
    State(state): State<AppsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    Ok(ApiSuccess::ok(
        review::decide(&state, &admin, &client, &id, Decision::Publish, None).await?,
    ))
}

/// Why: shown to the app's publisher.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Suspend an app: it signs no one in and its tokens stop working at once;
/// its publisher sees the reason.
#[utoipa::path(
    post, path = "/api/v1/admin/apps/{id}/suspend", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The app, suspended", body = Envelope<AppView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such app", body = ErrorEnvelope),
        (status = 409, description = "The app is suspended already", body = ErrorEnvelope),
        (status = 422, description = "`reason` is missing, blank or too long", body = ErrorEnvelope),
    )
)]
pub async fn suspend(
    State(state): State<AppsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    Ok(ApiSuccess::ok(
        review::decide(
            &state,
            &admin,
            &client,
            &id,
            Decision::Suspend,
            Some(&body.reason),
        )
        .await?,
    ))
}

/// Reject an app in review: it is a draft again, with the reason its
/// publisher sees; they may change it and submit it again.
#[utoipa::path(
    post, path = "/api/v1/admin/apps/{id}/reject", tag = "Apps",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app's id")),
    request_body = ReasonRequest,
    responses(
        (status = 200, description = "The app, a draft again", body = Envelope<AppView>),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No such app", body = ErrorEnvelope),
        (status = 409, description = "The app is not in review", body = ErrorEnvelope),
        (status = 422, description = "`reason` is missing, blank or too long", body = ErrorEnvelope),
    )
)]
pub async fn reject(
    State(state): State<AppsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<ReasonRequest>,
) -> Result<ApiSuccess<AppView>, ApiError> {
    Ok(ApiSuccess::ok(
        review::decide(
            &state,
            &admin,
            &client,
            &id,
            Decision::Reject,
            Some(&body.reason),
        )
        .await?,
    ))
}
