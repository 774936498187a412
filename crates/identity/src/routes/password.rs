//! Passwords: reset by mail (`/auth/request-password-reset`,
//! `/auth/reset-password`) and change when signed in (`/auth/change-password`).

use std::time::Duration;

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::crypto::random_hex;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::{ApiError, Timestamp};
use landlord_mail::{Mail, Template};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{token_error, EmailRequest, MessageResponse, RevokedResponse};
use crate::auth::CurrentUser;
use crate::mail_limits::{self, MailKind};
use crate::store::{self, Purpose};
use crate::validation::normalize_email;
use crate::{password, IdentityState};

const PASSWORD_RESET_TTL: Duration = Duration::from_secs(3600);
const RESET_REQUESTED: &str = "if an account uses this email, a password reset mail is on its way";

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: String,
    /// 8 to 128 characters, not the account's email address.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

landlord_core::debug_redacted!(ResetPasswordRequest {  } secret { token, new_password });

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters, not the account's email address.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

landlord_core::debug_redacted!(ChangePasswordRequest {  } secret { current_password, new_password });

/// Send a password reset mail (valid 1 hour).
///
/// Answers the same whether or not the account exists. At most
/// `mails_per_recipient_per_day` reset mails a day to one address, counted
/// for the address whether or not an account uses it (so a 429 reveals
/// nothing about the account).
#[utoipa::path(
    post, path = "/auth/request-password-reset", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted", body = Envelope<MessageResponse>),
        (status = 422, description = "Not an email address", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address, or too many reset mails to this email today; see Retry-After", body = ErrorEnvelope),
    )
)]
pub async fn request_password_reset(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<EmailRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    let email = normalize_email("email", &body.email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(&state, MailKind::PasswordReset, &email).await?;
    if let Some(user) = store::user_by_email(state.db.pool(), &email).await? {
        let token = random_hex(32);
        let mut tx = state.db.begin().await?;
        store::insert_one_time_token(
            &mut tx,
            &user.id,
            Purpose::PasswordReset,
            &token,
            Timestamp::now().plus(PASSWORD_RESET_TTL),
        )
        .await?;
        let mail = Mail {
            to: user.email.clone(),
            template: Template::PasswordReset,
            context: serde_json::json!({
                "name": user.name,
                "link": state.link("reset-password", &token),
                "token": token,
            }),
        };
        landlord_mail::queue_sealed(&mut *tx, &mail, &state.payload_cipher).await?;
        landlord_audit::record(
            &mut *tx,
            AuditEntry::new("auth.password_reset_requested")
                .actor(&user.id)
                .target("user", &user.id)
                .client(&client),
        )
        .await?;
        landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    }
    Ok(ApiSuccess::accepted(MessageResponse {
        message: RESET_REQUESTED.into(),
    }))
}

/// Choose a new password with the token from the reset mail.
///
/// Every session of the account is revoked.
#[utoipa::path(
    post, path = "/auth/reset-password", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = Envelope<MessageResponse>),
        (status = 422, description = "Unknown, used or expired token, or a weak password", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn reset_password(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    // Cheap checks first: the length, then the token (read, not yet used),
    // the policy with the account's email and the account's limit; only
    // then the hashing.
    password::validate("new_password", &body.new_password, "")?;
    let token = body.token.trim();
    let holder = store::peek_one_time_token(state.db.pool(), Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error("token", p))?;
    let holder = store::user_by_id(state.db.pool(), &holder)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    password::validate("new_password", &body.new_password, &holder.email)?;
    state.limit_password_work(&holder.email).await?;
    let password_hash = password::hash(&state.hashing, body.new_password.clone()).await?;
    let mut tx = state.db.begin().await?;
    let user_id = store::consume_one_time_token(&mut tx, Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error("token", p))?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    store::set_password_hash(&mut *tx, &user_id, &password_hash).await?;
    let revoked = store::revoke_user_sessions(&mut *tx, &user_id, None, "password_reset").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.password_reset")
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    state
        .login_failures
        .clear(&format!("account:{}", user.email));
    Ok(ApiSuccess::ok(MessageResponse {
        message: "password changed; sign in with the new password".into(),
    }))
}

/// Change the password of the signed-in user.
///
/// The user's other sessions are revoked; this one stays.
#[utoipa::path(
    post, path = "/auth/change-password", tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = Envelope<RevokedResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 422, description = "Wrong current password or a weak new one", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn change_password(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    // Cheap first: the new password's policy, the account's limit; then
    // the current password (one hash), and only then the new one.
    password::validate("new_password", &body.new_password, &user.email)?;
    state.limit_password_work(&user.email).await?;
    if !password::verify(
        &state.hashing,
        body.current_password,
        Some(user.password_hash.expose().clone()),
    )
    .await?
    {
        return Err(ApiError::invalid_field(
            "current_password",
            "is not the current password",
        ));
    }
    let password_hash = password::hash(&state.hashing, body.new_password).await?;
    let mut tx = state.db.begin().await?;
    store::set_password_hash(&mut *tx, &user.id, &password_hash).await?;
    let revoked = store::revoke_user_sessions(
        &mut *tx,
        &user.id,
        Some(&current.session_id),
        "password_changed",
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.password_changed")
            .target("user", &user.id)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked }))
}
