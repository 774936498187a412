//! The provider's discovery documents (OpenID Connect Discovery, RFC 8414)
//! and its JWKS: what a client library reads before anything else.

use crate::discovery::ProviderMetadata;
use crate::oauth::{OAuthError, OAuthErrorBody};
use crate::signing::{self, Jwks};
use crate::AppsState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// How long a client may keep the JWKS: short, so a rotated key is seen
/// long before the old key's tokens expire.
const JWKS_CACHE: &str = "public, max-age=300";

/// How long a client may keep a discovery document.
const DISCOVERY_CACHE: &str = "public, max-age=3600";

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
