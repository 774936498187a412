//! `/apps/authorized…`: the apps the signed-in person authorized, and
//! revoking one (its consent and every token it holds for the person).

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ApiError;
use landlord_identity::CurrentUser;
use serde::Serialize;
use utoipa::ToSchema;

use crate::authorized::{self, AuthorizedApp};
use crate::ids::AppId;
use crate::AppsState;

/// A revoked authorization.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedAuthorization {
    pub app_id: AppId,
    /// Always `true`: the consent and the app's tokens for you are revoked.
    pub revoked: bool,
}

/// The apps you signed in to with your Landlord account and have not
/// revoked, the most recently allowed first, each with the scopes granted
/// in words.
#[utoipa::path(
    get, path = "/api/v1/apps/authorized", tag = "Apps", operation_id = "list_authorized_apps",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your authorized apps", body = Envelope<Vec<AuthorizedApp>>),
    )
)]
pub async fn list(
    State(state): State<AppsState>,
    user: CurrentUser,
) -> Result<ApiSuccess<Vec<AuthorizedApp>>, ApiError> {
    Ok(ApiSuccess::ok(
        authorized::list(&state, &user.user_id).await?,
    ))
}

/// Revoke an app you authorized: your consent, and at once every access
/// and refresh token the app holds for you (introspection answers
/// `active: false`). Signing in to the app again asks for consent again.
#[utoipa::path(
    delete, path = "/api/v1/apps/authorized/{app_id}", tag = "Apps", operation_id = "revoke_authorized_app",
    security(("bearer" = [])),
    params(("app_id" = String, Path, description = "The app's id (its client_id)")),
    responses(
        (status = 200, description = "Revoked", body = Envelope<RevokedAuthorization>),
        (status = 404, description = "You have not authorized this app (or revoked it already)", body = ErrorEnvelope),
    )
)]
pub async fn revoke(
    State(state): State<AppsState>,
    user: CurrentUser,
    client: ClientInfo,
    Path(app_id): Path<String>,
) -> Result<ApiSuccess<RevokedAuthorization>, ApiError> {
    let app_id = AppId::parse_or_not_found(&app_id, "authorized app")?;
    authorized::revoke(&state, &user.user_id, &client, &app_id).await?;
    Ok(ApiSuccess::ok(RevokedAuthorization {
        app_id,
        revoked: true,
    }))
}
