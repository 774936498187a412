//! Passwords: reset by mail (`/auth/request-password-reset`,
//! `/auth/reset-password`) and change when signed in (`/auth/change-password`).

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{EmailRequest, MessageResponse, RevokedResponse};
use crate::accounts;
use crate::auth::CurrentUser;
use crate::IdentityState;

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
    post, path = "/api/v1/auth/request-password-reset", tag = "auth",
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
    accounts::request_password_reset(&state, &client, &body.email).await?;
    Ok(ApiSuccess::accepted(MessageResponse {
        message: RESET_REQUESTED.into(),
    }))
}

/// Choose a new password with the token from the reset mail.
///
/// Every session of the account is revoked.
#[utoipa::path(
    post, path = "/api/v1/auth/reset-password", tag = "auth",
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
    accounts::reset_password(
        &state,
        &client,
        ("token", "new_password"),
        &body.token,
        body.new_password,
    )
    .await?;
    Ok(ApiSuccess::ok(MessageResponse {
        message: "password changed; sign in with the new password".into(),
    }))
}

/// Change the password of the signed-in user.
///
/// The user's other sessions are revoked; this one stays.
#[utoipa::path(
    post, path = "/api/v1/auth/change-password", tag = "auth",
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
    let revoked = accounts::change_password(
        &state,
        &current,
        &client,
        body.current_password,
        body.new_password,
    )
    .await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked }))
}
