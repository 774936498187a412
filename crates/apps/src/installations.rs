//! Apps installed into organizations, and their server-to-server tokens.
//! (Being built: install, uninstall, the client-credentials grant.)

use crate::oauth::{OAuthError, TokenResponse};
use crate::scopes::ScopeSet;
use crate::store::AppRow;
use crate::AppsState;

/// The client-credentials grant: an access token (no refresh token) for
/// `app`'s installation in the organization the request names, within the
/// scopes that organization consented to.
pub async fn client_credentials(
    _state: &AppsState,
    _app: &AppRow,
    _requested: &ScopeSet,
    _organization: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    Err(OAuthError::UnauthorizedClient(
        "installations are not built yet".into(),
    ))
}
