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
use crate::auth::CurrentUser;
use crate::sessions::{auth_response, issue_refresh_token, start_session, AuthResponse};
use crate::store::{self, Membership};
use crate::validation::{normalize_email, EmailAddress};
use crate::{password, IdentityState};

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
    post, path = "/auth/login", tag = "auth",
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
    let email = normalize_email("email", &body.email)?;
    // Tight per (account, address), loose per account, and per address:
    // guessing from one address stops early, guessing from many cannot lock
    // the owner (who signs in from elsewhere) out.
    let ip = client.ip.as_deref().unwrap_or("unknown");
    let pair_key = format!("account:{email}:ip:{ip}");
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{ip}");
    let config = &state.config;
    for (key, max) in [
        (&pair_key, config.login_max_failures_per_account_address),
        (&account_key, config.login_max_failures_per_account),
        (&ip_key, config.login_max_failures_per_ip),
    ] {
        if let Err(retry) = state.login_failures.check(key, max) {
            return Err(ApiError::RateLimited {
                message: "too many failed sign-in attempts; try again later".into(),
                retry_after_secs: retry.as_secs().max(1),
            });
        }
    }

    let user = store::user_by_email(state.db.pool(), &email).await?;
    let valid = password::verify(
        &state.hashing,
        body.password,
        user.as_ref().map(|u| u.password_hash.expose().clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| valid) else {
        state.login_failures.record_failure(&pair_key);
        state.login_failures.record_failure(&account_key);
        state.login_failures.record_failure(&ip_key);
        let mut entry = AuditEntry::new("auth.login_failed")
            .client(&client)
            .details(serde_json::json!({ "email": email }));
        if let Some(user_id) = store::user_by_email(state.db.pool(), &email)
            .await?
            .map(|u| u.id)
        {
            entry = entry.actor(&user_id).target("user", &user_id);
        }
        landlord_audit::record(state.db.pool(), entry).await?;
        return Err(ApiError::Unauthorized(
            "email or password is incorrect".into(),
        ));
    };
    state.login_failures.clear(&pair_key);
    state.login_failures.clear(&account_key);

    let Membership {
        organization, role, ..
    } = store::memberships(state.db.pool(), &user.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::Forbidden("this account does not belong to any organization".into())
        })?;
    let mut tx = state.db.begin().await?;
    let (family_id, refresh_token) =
        start_session(&mut tx, &state, &user.id, &organization.id, &client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.login")
            .organization(&organization.id)
            .actor(&user.id)
            .target("session", &family_id)
            .client(&client),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(auth_response(
        &state,
        &user,
        &organization,
        role,
        &family_id,
        refresh_token,
    )?))
}

/// Exchange a refresh token for a new access token and refresh token.
///
/// Each refresh token works once. Presenting one that was already used
/// revokes its whole session (stolen-token detection).
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
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
    post, path = "/auth/logout", tag = "auth",
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
    let mut tx = state.db.begin().await?;
    store::revoke_family(&mut *tx, &user.session_id, "logout").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&user, &client, "auth.logout").target("session", &user.session_id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}
