//! `POST /auth/verify-email` and `/auth/request-email-verification`.

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

use super::{token_error, EmailRequest, MessageResponse};
use crate::mail_limits::{self, MailKind};
use crate::model::{UserRow, UserView};
use crate::store::{self, Purpose};
use crate::validation::normalize_email;
use crate::IdentityState;

const EMAIL_VERIFICATION_TTL: Duration = Duration::from_secs(24 * 3600);
const VERIFICATION_REQUESTED: &str =
    "if an unverified account uses this email, a verification mail is on its way";

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the mail.
    pub token: String,
}

landlord_core::debug_redacted!(TokenRequest {  } secret { token });

pub(super) async fn queue_verification_mail(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    user: &UserRow,
) -> Result<(), ApiError> {
    let token = random_hex(32);
    store::insert_one_time_token(
        conn,
        &user.id,
        Purpose::EmailVerification,
        &token,
        Timestamp::now().plus(EMAIL_VERIFICATION_TTL),
    )
    .await?;
    let mail = Mail {
        to: user.email.clone(),
        template: Template::EmailVerification,
        context: serde_json::json!({
            "name": user.name,
            "link": state.link("verify-email", &token),
            "token": token,
        }),
    };
    landlord_mail::queue_sealed(conn, &mail, &state.payload_cipher).await?;
    Ok(())
}

/// Confirm an email address with the token from the verification mail.
#[utoipa::path(
    post, path = "/auth/verify-email", tag = "auth",
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
    let mut tx = state.db.begin().await?;
    let user_id =
        store::consume_one_time_token(&mut tx, Purpose::EmailVerification, body.token.trim())
            .await?
            .map_err(|p| token_error("token", p))?;
    store::mark_email_verified(&mut *tx, &user_id).await?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    let organization = store::memberships(&mut *tx, &user_id)
        .await?
        .into_iter()
        .next()
        .map(|m| m.organization);
    if let Some(organization) = &organization {
        let mail = Mail {
            to: user.email.clone(),
            template: Template::Welcome,
            context: serde_json::json!({
                "name": user.name,
                "organization_name": organization.name,
                "link": format!("{}/login", state.config.app_url()),
            }),
        };
        landlord_mail::queue_sealed(&mut *tx, &mail, &state.payload_cipher).await?;
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.email_verified")
            .maybe_organization(organization.as_ref().map(|o| &o.id))
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(ApiSuccess::ok(UserView::from(&user)))
}

/// Send a new verification mail.
///
/// Answers the same whether or not the account exists. At most
/// `mails_per_recipient_per_day` verification mails a day to one address,
/// counted for the address whether or not an account uses it (so a 429
/// reveals nothing about the account).
#[utoipa::path(
    post, path = "/auth/request-email-verification", tag = "auth",
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
    let email = normalize_email("email", &body.email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(&state, MailKind::EmailVerification, &email).await?;
    if let Some(user) = store::user_by_email(state.db.pool(), &email).await? {
        if user.email_verified_at.is_none() {
            let mut tx = state.db.begin().await?;
            queue_verification_mail(&mut tx, &state, &user).await?;
            landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
        }
    }
    Ok(ApiSuccess::accepted(MessageResponse {
        message: VERIFICATION_REQUESTED.into(),
    }))
}
