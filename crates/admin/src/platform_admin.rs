//! Who reaches `/admin`.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::UserId;
use landlord_core::ApiError;
use landlord_identity::auth::CurrentUser;
use landlord_identity::IdentityState;

/// A signed-in platform administrator (the rule is
/// [`landlord_identity::platform::platform_admin`]). Anyone else gets 403.
#[derive(Debug, Clone)]
pub struct PlatformAdmin {
    pub user_id: UserId,
}

impl<S> FromRequestParts<S> for PlatformAdmin
where
    S: Send + Sync,
    IdentityState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let current = CurrentUser::from_request_parts(parts, state).await?;
        PlatformAdmin::check(&IdentityState::from_ref(state), &current.user_id).await
    }
}

impl PlatformAdmin {
    /// The one rule of who is a platform administrator, for the API's
    /// extractor and the console's `/operator` pages alike.
    pub async fn check(identity: &IdentityState, user_id: &UserId) -> Result<Self, ApiError> {
        let user_id = landlord_identity::platform::platform_admin(identity, user_id).await?;
        Ok(PlatformAdmin { user_id })
    }

    /// An operator's action: platform-wide, so recorded without an
    /// organization (it shows in no tenant's audit log).
    pub fn audit(&self, client: &ClientInfo, action: &str) -> AuditEntry {
        AuditEntry::new(action).actor(&self.user_id).client(client)
    }
}
