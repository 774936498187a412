//! What the provider says about itself: the metadata document of OpenID
//! Connect Discovery and RFC 8414, built from `public_url`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::signing;

/// The provider's metadata (the same document at both addresses).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderMetadata {
    /// The server's `public_url` without a trailing slash; the `iss` of
    /// every ID token.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    /// `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `["query"]`: the code comes back in the redirect URI's query.
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    /// `["S256"]`: PKCE is required, `plain` refused.
    pub code_challenge_methods_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

impl ProviderMetadata {
    /// The document for a server reached at `public_url`.
    pub fn new(public_url: &str) -> Self {
        let issuer = public_url.trim_end_matches('/').to_owned();
        let at = |path: &str| format!("{issuer}{path}");
        let client_auth = strings(&["client_secret_basic", "client_secret_post", "none"]);
        Self {
            authorization_endpoint: at("/oauth/authorize"),
            token_endpoint: at("/oauth/token"),
            revocation_endpoint: at("/oauth/revoke"),
            introspection_endpoint: at("/oauth/introspect"),
            userinfo_endpoint: at("/oauth/userinfo"),
            jwks_uri: at("/oauth/jwks"),
            issuer,
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&[
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ]),
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: client_auth.clone(),
            revocation_endpoint_auth_methods_supported: client_auth.clone(),
            introspection_endpoint_auth_methods_supported: client_auth,
            scopes_supported: crate::scopes::SCOPES
                .iter()
                .map(|s| s.name.to_owned())
                .collect(),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&[signing::ALGORITHM]),
            claims_supported: strings(&[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "name",
                "email",
                "email_verified",
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_has_no_trailing_slash_and_endpoints_hang_off_it() {
        let doc = ProviderMetadata::new("https://id.example.com/");
        assert_eq!(doc.issuer, "https://id.example.com");
        assert_eq!(doc.token_endpoint, "https://id.example.com/oauth/token");
        assert_eq!(doc.jwks_uri, "https://id.example.com/oauth/jwks");
        assert_eq!(doc.code_challenge_methods_supported, vec!["S256"]);
        assert!(doc.scopes_supported.iter().any(|s| s == "openid"));
    }
}
