//! Apps installed into organizations, and their server-to-server tokens.
//! (Being built: install, uninstall, the client-credentials grant.)

use crate::oauth::{OAuthError, TokenResponse};
use crate::scopes::ScopeSet;
use crate::store::AppRow;
use crate::AppsState;

/// The client-credentials grant: an access token (no refresh token) for
/// `app`'s installation `installation_id` (the token request's
/// `installation_id` parameter), within the scopes the installing
/// organization consented to.
pub async fn client_credentials(
    _state: &AppsState,
    _app: &AppRow,
    _requested: &ScopeSet,
    _installation_id: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    Err(OAuthError::UnauthorizedClient(
        "installations are not built yet".into(),
    ))
}
