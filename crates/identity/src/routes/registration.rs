//! `POST /auth/register`: a new organization and its owner, signed in.

use axum::extract::State;
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use serde::Deserialize;
use utoipa::ToSchema;

use super::email_verification::queue_verification_mail;
use crate::mail_limits::{self, MailKind};
use crate::model::Role;
use crate::sessions::{auth_response, start_session, AuthResponse};
use crate::store;
use crate::validation::{normalize_email, optional_name, required_name, EmailAddress, Name};
use crate::{password, IdentityState};

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Name of the new organization.
    #[schema(value_type = Name, example = "Acme")]
    pub organization_name: String,
    /// The person's name; blank counts as absent.
    #[schema(example = "Ada Lovelace", max_length = 100)]
    pub name: Option<String>,
    #[schema(value_type = EmailAddress, example = "ada@acme.test")]
    pub email: String,
    /// 8 to 128 characters, not the email address.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
}

landlord_core::debug_redacted!(RegisterRequest { organization_name, name, email } secret { password });

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Create an organization and its owner, and sign in.
///
/// Sends a verification mail (valid 24 hours).
#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = Envelope<AuthResponse>),
        (status = 409, description = "An account with this email exists", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account, or too many verification mails to this email today; see Retry-After", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn register(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    let organization_name = required_name("organization_name", &body.organization_name)?;
    let name = optional_name("name", body.name.as_deref())?;
    let email = normalize_email("email", &body.email)?;
    password::validate("password", &body.password, &email)?;
    // Registering sends a verification mail: it counts against the
    // address's budget, whether or not the address is taken.
    mail_limits::per_recipient(&state, MailKind::EmailVerification, &email).await?;
    let conflict = || ApiError::Conflict("an account with this email already exists".into());
    if store::user_by_email(state.db.pool(), &email)
        .await?
        .is_some()
    {
        return Err(conflict());
    }
    state.limit_password_work(&email).await?;
    let password_hash = password::hash(&state.hashing, body.password).await?;

    let mut tx = state.db.begin().await?;
    let user_id = match store::insert_user(&mut tx, &email, name.as_deref(), &password_hash).await {
        Ok(id) => id,
        Err(e) if unique_violation(&e) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    };
    let organization_id = store::insert_organization(
        &mut tx,
        &organization_name,
        &email,
        &state.config.default_plan,
    )
    .await?;
    store::insert_membership(&mut tx, &organization_id, &user_id, Role::Owner).await?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished in its transaction")))?;
    let organization = store::organization_by_id(&mut *tx, &organization_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("organization vanished")))?;
    queue_verification_mail(&mut tx, &state, &user).await?;
    let (family_id, refresh_token) =
        start_session(&mut tx, &state, &user_id, &organization_id, &client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.register")
            .organization(&organization_id)
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    let response = auth_response(
        &state,
        &user,
        &organization,
        Role::Owner,
        &family_id,
        refresh_token,
    )?;
    Ok(ApiSuccess::created(response))
}
