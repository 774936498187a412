//! The provider's discovery documents (OpenID Connect Discovery, RFC 8414)
//! and its JWKS: what a client library reads before anything else.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::oauth::{OAuthError, OAuthErrorBody};
use crate::signing::{self, Jwks};
use crate::AppsState;

/// How long a client may keep the JWKS: short, so a rotated key is seen
/// long before the old key's tokens expire.
const JWKS_CACHE: &str = "public, max-age=300";

/// How long a client may keep a discovery document.
const DISCOVERY_CACHE: &str = "public, max-age=3600";

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

fn cached(body: impl IntoResponse, cache_control: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

/// OpenID Connect Discovery: the provider's endpoints and what it supports.
#[utoipa::path(
    get, path = "/.well-known/openid-configuration", tag = "OAuth",
    responses(
        (status = 200, description = "The provider's metadata", body = ProviderMetadata),
    )
)]
pub async fn openid_configuration(State(state): State<AppsState>) -> Response {
    cached(
        Json(ProviderMetadata::new(&state.config.public_url)),
        DISCOVERY_CACHE,
    )
}

/// OAuth 2.0 Authorization Server Metadata (RFC 8414): the same document.
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "OAuth",
    responses(
        (status = 200, description = "The provider's metadata", body = ProviderMetadata),
    )
)]
pub async fn authorization_server_metadata(State(state): State<AppsState>) -> Response {
    cached(
        Json(ProviderMetadata::new(&state.config.public_url)),
        DISCOVERY_CACHE,
    )
}

/// The public keys that verify ID tokens: the key that signs now and every
/// retired key whose tokens may still be valid.
#[utoipa::path(
    get, path = "/oauth/jwks", tag = "OAuth",
    responses(
        (status = 200, description = "The JSON Web Key Set", body = Jwks),
        (status = 500, description = "The keys could not be read (`server_error`)", body = OAuthErrorBody),
    )
)]
pub async fn jwks(State(state): State<AppsState>) -> Result<Response, OAuthError> {
    let set = signing::jwks(&state.db, &state.identity.payload_cipher, &state.keyring).await?;
    Ok(cached(Json(set), JWKS_CACHE))
}
