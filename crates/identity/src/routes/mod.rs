//! The `/auth` routes, one file per action: registering, signing in and
//! out, the account, sessions, email verification, passwords.

mod account;
mod email_verification;
mod password;
mod registration;
mod sessions;
mod sign_in;

pub use account::{
    AccessTokenResponse, MeResponse, MembershipView, SwitchOrganizationRequest, UpdateMeRequest,
};
pub use email_verification::TokenRequest;
pub use password::{ChangePasswordRequest, ResetPasswordRequest};
pub use registration::RegisterRequest;
pub use sessions::{revoke_one, revoke_sessions, sessions_of, SessionView};
pub use sign_in::{LoginRequest, RefreshRequest};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::IdentityState;

pub fn router() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::new()
        .routes(routes!(registration::register))
        .routes(routes!(sign_in::login))
        .routes(routes!(sign_in::refresh))
        .routes(routes!(sign_in::logout))
        .routes(routes!(email_verification::verify_email))
        .routes(routes!(email_verification::request_email_verification))
        .routes(routes!(password::request_password_reset))
        .routes(routes!(password::reset_password))
        .routes(routes!(password::change_password))
        .routes(routes!(account::me, account::update_me))
        .routes(routes!(account::organizations))
        .routes(routes!(account::switch_organization))
        .routes(routes!(
            sessions::list_sessions,
            sessions::revoke_all_sessions
        ))
        .routes(routes!(sessions::revoke_session))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailRequest {
    #[schema(value_type = crate::validation::EmailAddress)]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedResponse {
    /// Sessions revoked by this request.
    pub revoked: u64,
}
