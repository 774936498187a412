//! `POST /auth/verify-email` and `/auth/request-email-verification`.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{EmailRequest, MessageResponse};
use crate::accounts;
use crate::model::UserView;
use crate::IdentityState;

const VERIFICATION_REQUESTED: &str =
    "if an unverified account uses this email, a verification mail is on its way";

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the mail.
    pub token: String,
}

landlord_core::debug_redacted!(TokenRequest {  } secret { token });

/// Confirm an email address with the token from the verification mail.
#[utoipa::path(
    post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Email verified", body = Envelope<UserView>),
        (status = 422, description = "Unknown, used or expired token", body = ErrorEnvelope),
    )
)]
pub async fn verify_email(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<TokenRequest>,
) -> Result<ApiSuccess<UserView>, ApiError> {
    let user = accounts::verify_email(&state, &client, "token", &body.token).await?;
    Ok(ApiSuccess::ok(UserView::from(&user)))
}

/// Send a new verification mail.
///
/// Answers the same whether or not the account exists. At most
/// `mails_per_recipient_per_day` verification mails a day to one address,
/// counted for the address whether or not an account uses it (so a 429
/// reveals nothing about the account).
#[utoipa::path(
    post, path = "/api/v1/auth/request-email-verification", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted", body = Envelope<MessageResponse>),
        (status = 422, description = "Not an email address", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address, or too many verification mails to this email today; see Retry-After", body = ErrorEnvelope),
    )
)]
pub async fn request_email_verification(
    State(state): State<IdentityState>,
    Json(body): Json<EmailRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    accounts::request_email_verification(&state, &body.email).await?;
    Ok(ApiSuccess::accepted(MessageResponse {
        message: VERIFICATION_REQUESTED.into(),
    }))
}
