//! Signing in and out: `POST /auth/login`, `/auth/refresh`, `/auth/logout`.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use super::RevokedResponse;
use crate::accounts;
use crate::auth::CurrentUser;
use crate::sessions::{auth_response, issue_refresh_token, AuthResponse};
use crate::store;
use crate::validation::EmailAddress;
use crate::IdentityState;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(value_type = EmailAddress)]
    pub email: String,
    pub password: String,
}

landlord_core::debug_redacted!(LoginRequest { email } secret { password });

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

landlord_core::debug_redacted!(RefreshRequest {  } secret { refresh_token });

/// Sign in with email and password.
///
/// Failed attempts are limited per (account, client address) tightly, per
/// account loosely and per client address; past a limit the answer is 429
/// with `Retry-After` until the window passes.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Envelope<AuthResponse>),
        (status = 401, description = "Email or password is incorrect", body = ErrorEnvelope),
        (status = 429, description = "Too many failed attempts (per account and address, per account, per address) or requests from this address", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn login(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    Ok(ApiSuccess::ok(
        accounts::sign_in(&state, &client, &body.email, body.password).await?,
    ))
}

/// Exchange a refresh token for a new access token and refresh token.
///
/// Each refresh token works once. Presenting one that was already used
/// revokes its whole session (stolen-token detection).
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Envelope<AuthResponse>),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = ErrorEnvelope),
    )
)]
pub async fn refresh(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    let invalid = || ApiError::Unauthorized("the refresh token is not valid".into());
    let mut tx = state.db.begin().await?;
    let session = store::session_by_token(&mut tx, body.refresh_token.trim())
        .await?
        .ok_or_else(invalid)?;
    if session.revoked_at.is_some() {
        return Err(ApiError::Unauthorized(
            "the session has been revoked".into(),
        ));
    }
    if session.used_at.is_some() || !store::mark_session_used(&mut tx, &session.id).await? {
        store::revoke_family(&mut *tx, &session.family_id, "refresh_token_reused").await?;
        landlord_audit::record(
            &mut *tx,
            AuditEntry::new("auth.refresh_token_reused")
                .organization(&session.organization_id)
                .actor(&session.user_id)
                .target("session", &session.family_id)
                .client(&client),
        )
        .await?;
        tx.commit().await?;
        state.access_ended(&session.user_id);
        tracing::warn!(session = %session.family_id, "refresh token reused: session revoked");
        return Err(ApiError::Unauthorized(
            "this refresh token was already used; the session has been revoked, sign in again"
                .into(),
        ));
    }
    if session.expires_at <= Timestamp::now() {
        return Err(ApiError::Unauthorized(
            "the refresh token has expired; sign in again".into(),
        ));
    }
    let user = store::user_by_id(&mut *tx, &session.user_id)
        .await?
        .ok_or_else(invalid)?;
    let role = store::role_in(&mut *tx, &user.id, &session.organization_id)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("you are no longer a member of this organization".into())
        })?;
    let organization = store::organization_by_id(&mut *tx, &session.organization_id)
        .await?
        .ok_or_else(invalid)?;
    let refresh_token = issue_refresh_token(
        &mut tx,
        &state,
        &session.family_id,
        &user.id,
        &organization.id,
        &client,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(auth_response(
        &state,
        &user,
        &organization,
        role,
        &session.family_id,
        refresh_token,
    )?))
}

/// End the current session: its access and refresh tokens stop working.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Signed out", body = Envelope<RevokedResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn logout(
    State(state): State<IdentityState>,
    user: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    accounts::sign_out(&state, &user, &client).await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}
