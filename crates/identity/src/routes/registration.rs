//! `POST /auth/register`: a new organization and its owner, signed in.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ApiError;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::accounts;
use crate::sessions::AuthResponse;
use crate::validation::{EmailAddress, Name};
use crate::IdentityState;

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

/// Create an organization and its owner, and sign in.
///
/// Sends a verification mail (valid 24 hours).
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
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
    let input = accounts::Registration {
        organization_name: &body.organization_name,
        name: body.name.as_deref(),
        email: &body.email,
        password: body.password,
    };
    Ok(ApiSuccess::created(
        accounts::register(&state, &client, input).await?,
    ))
}
