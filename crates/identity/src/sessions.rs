//! Sessions: starting a refresh-token family, issuing tokens, and the
//! signed-in answer. Used by identity's routes and by features that sign a
//! person in (accepting an invitation creates an account).

use std::time::Duration;

use landlord_core::crypto::random_hex;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{OrganizationId, SessionId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::CurrentUser;
use crate::model::{OrganizationRow, OrganizationView, Role, UserRow, UserView};
use crate::store::{self, NewRefreshToken};
use crate::IdentityState;

/// A signed-in session: tokens, the user and the active organization.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for `POST /auth/refresh`; rotated at every use.
    pub refresh_token: String,
    pub user: UserView,
    pub organization: OrganizationView,
    pub role: Role,
}

landlord_core::debug_redacted!(AuthResponse { token_type, expires_in, user, organization, role } secret { access_token, refresh_token });

fn new_refresh_token() -> String {
    format!("rt_{}", random_hex(32))
}

impl IdentityState {
    pub(crate) fn refresh_expiry(&self) -> Timestamp {
        Timestamp::now().plus(Duration::from_secs(
            self.config.refresh_token_ttl_days * 24 * 3600,
        ))
    }

    pub(crate) fn access_token(
        &self,
        user_id: &UserId,
        org_id: &OrganizationId,
        session_id: &SessionId,
    ) -> Result<String, ApiError> {
        self.tokens
            .issue(user_id, org_id, session_id)
            .map_err(ApiError::internal)
    }
}

/// Stores a new refresh token in the session `family_id` and returns it.
pub(crate) async fn issue_refresh_token(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    family_id: &SessionId,
    user_id: &UserId,
    organization_id: &OrganizationId,
    client: &ClientInfo,
) -> Result<String, ApiError> {
    let refresh_token = new_refresh_token();
    let token = NewRefreshToken {
        family_id,
        user_id,
        organization_id,
        refresh_token: &refresh_token,
        expires_at: state.refresh_expiry(),
        ip: client.ip.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    store::insert_session(conn, token).await?;
    Ok(refresh_token)
}

/// Starts a session family and returns (family id, refresh token).
pub async fn start_session(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    user_id: &UserId,
    organization_id: &OrganizationId,
    client: &ClientInfo,
) -> Result<(SessionId, String), ApiError> {
    let family_id = SessionId::generate();
    let refresh_token =
        issue_refresh_token(conn, state, &family_id, user_id, organization_id, client).await?;
    Ok((family_id, refresh_token))
}

pub fn auth_response(
    state: &IdentityState,
    user: &UserRow,
    organization: &OrganizationRow,
    role: Role,
    family_id: &SessionId,
    refresh_token: String,
) -> Result<AuthResponse, ApiError> {
    Ok(AuthResponse {
        access_token: state.access_token(&user.id, &organization.id, family_id)?,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        refresh_token,
        user: user.into(),
        organization: organization.into(),
        role,
    })
}

/// The person behind a browser's session cookie: the console keeps a
/// refresh token of its own session family and never rotates it. `None`
/// when the token is unknown, used, revoked or expired, or when its person
/// left the session's organization — so revoking the session in the API
/// (or a password reset) signs the browser out at its next request.
pub async fn browser_session(
    state: &IdentityState,
    refresh_token: &str,
) -> Result<Option<CurrentUser>, ApiError> {
    let mut conn = state.db.pool().acquire().await?;
    let Some(session) = store::session_by_token(&mut conn, refresh_token).await? else {
        return Ok(None);
    };
    if session.revoked_at.is_some()
        || session.used_at.is_some()
        || session.expires_at <= Timestamp::now()
    {
        return Ok(None);
    }
    let Some(role) = store::role_in(&mut *conn, &session.user_id, &session.organization_id).await?
    else {
        return Ok(None);
    };
    Ok(Some(CurrentUser {
        user_id: session.user_id,
        organization_id: session.organization_id,
        role,
        session_id: session.family_id,
    }))
}

/// The signed-in person acting in `organization_id` (which may differ from
/// the session's active organization): `None` when they are not a member,
/// which pages answer as 404, like any other organization's data.
pub async fn in_organization(
    state: &IdentityState,
    user: &CurrentUser,
    organization_id: &OrganizationId,
) -> Result<Option<CurrentUser>, ApiError> {
    if &user.organization_id == organization_id {
        return Ok(Some(user.clone()));
    }
    let role = store::role_in(state.db.pool(), &user.user_id, organization_id).await?;
    Ok(role.map(|role| CurrentUser {
        user_id: user.user_id.clone(),
        organization_id: organization_id.clone(),
        role,
        session_id: user.session_id.clone(),
    }))
}
