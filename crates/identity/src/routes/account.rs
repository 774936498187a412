//! The signed-in account: `GET /auth/me`, `PATCH /auth/me`,
//! `/auth/organizations`, `POST /auth/switch-organization`.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts;
use crate::auth::CurrentUser;
use crate::model::{OrganizationView, Role, UserView};
use crate::store;
use crate::validation::Name;
use crate::IdentityState;
use landlord_core::http::client::ClientInfo;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SwitchOrganizationRequest {
    pub organization_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccessTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub organization: OrganizationView,
    pub role: Role,
}

landlord_core::debug_redacted!(AccessTokenResponse { token_type, expires_in, organization, role } secret { access_token });

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub organization: OrganizationView,
    pub role: Role,
    /// Whether this is the organization the access token acts in.
    pub active: bool,
    pub joined_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub organization: OrganizationView,
    pub role: Role,
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// The name shown to teammates and in mails.
    #[schema(value_type = Name)]
    pub name: String,
}

/// Change the signed-in user's name (the console's account page calls the
/// same `accounts::rename`); audited as `auth.name_changed`.
#[utoipa::path(
    patch, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The current user, renamed", body = Envelope<MeResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 422, description = "The name is missing, blank or too long", body = ErrorEnvelope),
    )
)]
pub async fn update_me(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
    Json(body): Json<UpdateMeRequest>,
) -> Result<ApiSuccess<MeResponse>, ApiError> {
    accounts::rename(&state, &current, &client, &body.name).await?;
    me(State(state), current).await
}

/// The signed-in user, the active organization and every membership.
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = Envelope<MeResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn me(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<MeResponse>, ApiError> {
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    let memberships = membership_views(&state, &current).await?;
    let active = memberships
        .iter()
        .find(|m| m.active)
        .map(|m| m.organization.clone())
        .ok_or_else(|| {
            ApiError::Unauthorized("you are no longer a member of this organization".into())
        })?;
    Ok(ApiSuccess::ok(MeResponse {
        user: UserView::from(&user),
        organization: active,
        role: current.role,
        memberships,
    }))
}

async fn membership_views(
    state: &IdentityState,
    current: &CurrentUser,
) -> Result<Vec<MembershipView>, ApiError> {
    Ok(store::memberships(state.db.pool(), &current.user_id)
        .await?
        .into_iter()
        .map(|membership| MembershipView {
            active: membership.organization.id == current.organization_id,
            organization: OrganizationView::from(&membership.organization),
            role: membership.role,
            joined_at: membership.joined_at,
        })
        .collect())
}

/// The organizations the signed-in user belongs to.
#[utoipa::path(
    get, path = "/api/v1/auth/organizations", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Memberships", body = Envelope<Vec<MembershipView>>))
)]
pub async fn organizations(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<Vec<MembershipView>>, ApiError> {
    Ok(ApiSuccess::ok(membership_views(&state, &current).await?))
}

/// Act in another organization the user belongs to.
///
/// Answers a new access token; the session's refresh token keeps working
/// and now refreshes into the new organization.
#[utoipa::path(
    post, path = "/api/v1/auth/switch-organization", tag = "auth",
    security(("bearer" = [])),
    request_body = SwitchOrganizationRequest,
    responses(
        (status = 200, description = "Switched", body = Envelope<AccessTokenResponse>),
        (status = 404, description = "Not a member of that organization", body = ErrorEnvelope),
    )
)]
pub async fn switch_organization(
    State(state): State<IdentityState>,
    current: CurrentUser,
    Json(body): Json<SwitchOrganizationRequest>,
) -> Result<ApiSuccess<AccessTokenResponse>, ApiError> {
    let target = OrganizationId::parse(body.organization_id.trim())
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let role = store::role_in(state.db.pool(), &current.user_id, &target)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let organization = store::organization_by_id(state.db.pool(), &target)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    store::switch_session_organization(state.db.pool(), &current.session_id, &organization.id)
        .await?;
    Ok(ApiSuccess::ok(AccessTokenResponse {
        access_token: state.access_token(
            &current.user_id,
            &organization.id,
            &current.session_id,
        )?,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        organization: OrganizationView::from(&organization),
        role,
    }))
}
