//! `/directory/apps…`: the public directory of published apps (no
//! authentication).

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::ApiError;

use crate::directory::{self, DirectoryAppView, DirectoryQuery};
use crate::AppsState;

/// Published apps, newest first: search by name, description or category
/// (`q`), one category, cursor pages. No authentication.
#[utoipa::path(
    get, path = "/api/v1/directory/apps", tag = "Apps",
    params(DirectoryQuery),
    responses(
        (status = 200, description = "Published apps; `meta.next_cursor` when more follow", body = Envelope<Vec<DirectoryAppView>>),
        (status = 422, description = "A parameter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    Query(query): Query<DirectoryQuery>,
) -> Result<ApiSuccess<Vec<DirectoryAppView>>, ApiError> {
    let (apps, meta) = directory::list(&state, &query).await?;
    Ok(ApiSuccess::ok(apps).with_meta(meta))
}

/// A published app: its publisher and the organization scopes it asks
/// for, in words. No authentication.
#[utoipa::path(
    get, path = "/api/v1/directory/apps/{slug}", tag = "Apps",
    params(("slug" = String, Path, description = "The app's slug")),
    responses(
        (status = 200, description = "The app", body = Envelope<DirectoryAppView>),
        (status = 404, description = "No published app has this slug (drafts, apps in review and suspended apps are not listed)", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppsState>,
    Path(slug): Path<String>,
) -> Result<ApiSuccess<DirectoryAppView>, ApiError> {
    Ok(ApiSuccess::ok(directory::find(&state, &slug).await?))
}
