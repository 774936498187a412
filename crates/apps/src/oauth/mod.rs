//! The provider's shared pieces: OAuth's error shape (RFC 6749 §5.2, what
//! OAuth clients parse, not the API's envelope), how a client proves who it
//! is at the token, revocation and introspection endpoints, and the token
//! endpoint's answer.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use landlord_core::crypto::constant_time_eq;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod authorize;
pub mod introspect;
pub mod token;

use crate::ids::AppId;
use crate::store::{self, AppRow, AppStatus, ClientType};
use crate::{tokens, AppsState};

/// An OAuth error answer: `{"error", "error_description"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// RFC 6749's code: `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, …
    pub error: String,
    pub error_description: String,
}

/// An error at the provider's endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 400 `invalid_request`: a parameter is missing, repeated or malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// 401 `invalid_client`: the client is unknown or its secret is wrong.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// 400 `invalid_grant`: the code, refresh token or PKCE verifier does
    /// not hold (expired, used, revoked, issued to another client…).
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// 400 `unauthorized_client`: this client may not use this grant.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// 400 `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// 400 `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// 401 `invalid_token` (userinfo, RFC 6750).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// 403 `insufficient_scope` (userinfo without `openid`).
    #[error("insufficient_scope: {0}")]
    InsufficientScope(String),
    /// 500 `server_error`: logged, nothing of it shown.
    #[error("server_error: {0}")]
    Server(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OAuthError {
    fn from(error: sqlx::Error) -> Self {
        OAuthError::Server(error.into())
    }
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Server(_) => "server_error",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn description(&self) -> String {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidToken(d)
            | Self::InsufficientScope(d) => d.clone(),
            Self::Server(_) => "the server could not complete the request".into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        if let Self::Server(error) = &self {
            tracing::error!(error = format!("{error:#}"), "oauth endpoint failed");
        }
        let status = self.status();
        let body = OAuthErrorBody {
            error: self.code().into(),
            error_description: self.description(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        // OAuth's shape is final: the API's envelope guard leaves it.
        response
            .extensions_mut()
            .insert(landlord_core::error::Enveloped);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            Self::InvalidClient(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"landlord\""),
                );
            }
            Self::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::InsufficientScope(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"insufficient_scope\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// The token endpoint's answer (RFC 6749 §5.1, plus OpenID's `id_token`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// With the `openid` scope: the ID token (RS256, `kid` in the JWKS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The client credentials a request carries: HTTP Basic
/// (`client_secret_basic`) or `client_id` / `client_secret` in the form
/// (`client_secret_post`), or a bare `client_id` (a public client, `none`).
#[derive(Debug, Clone, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl ClientCredentials {
    /// From the `Authorization: Basic` header, else the form's fields. Both
    /// at once is refused (RFC 6749 §2.3: one method per request).
    pub fn from_request(
        headers: &HeaderMap,
        form_client_id: Option<&str>,
        form_client_secret: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            })
            .map(|(_, encoded)| encoded.trim().to_owned());
        match basic {
            Some(encoded) => {
                if form_client_secret.is_some() {
                    return Err(OAuthError::InvalidRequest(
                        "send the client's credentials one way: Basic or the form, not both".into(),
                    ));
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        OAuthError::InvalidClient(
                            "the Basic credentials are not valid base64".into(),
                        )
                    })?;
                let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                    OAuthError::InvalidClient("the Basic credentials lack a ':'".into())
                })?;
                // RFC 6749 §2.3.1: both are form-urlencoded before base64.
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                Ok(Self {
                    client_id: Some(decode(id)),
                    client_secret: Some(decode(secret)),
                })
            }
            None => Ok(Self {
                client_id: form_client_id.map(str::to_owned),
                client_secret: form_client_secret.map(str::to_owned),
            }),
        }
    }
}

/// The app these credentials prove: a confidential client must give its
/// secret; a public client none. Unknown client, wrong or missing secret,
/// suspended app: `invalid_client`.
pub async fn authenticate_client(
    state: &AppsState,
    credentials: &ClientCredentials,
) -> Result<AppRow, OAuthError> {
    let unknown = || OAuthError::InvalidClient("unknown client or wrong credentials".into());
    let id = credentials.client_id.as_deref().ok_or_else(|| {
        OAuthError::InvalidClient("the client is not identified (client_id or Basic)".into())
    })?;
    let id = AppId::parse(id).ok_or_else(unknown)?;
    let app = store::app(state.db.pool(), &id)
        .await?
        .ok_or_else(unknown)?;
    if app.status == AppStatus::Suspended {
        return Err(OAuthError::InvalidClient("this app is suspended".into()));
    }
    match (
        app.client_type,
        &credentials.client_secret,
        &app.client_secret_hash,
    ) {
        (ClientType::Public, None, _) => Ok(app),
        (ClientType::Public, Some(_), _) => Err(OAuthError::InvalidClient(
            "a public client has no secret; send only client_id".into(),
        )),
        (ClientType::Confidential, Some(secret), Some(stored))
            if constant_time_eq(tokens::hash(secret).as_bytes(), stored.as_bytes()) =>
        {
            Ok(app)
        }
        (ClientType::Confidential, None, _) => Err(OAuthError::InvalidClient(
            "a confidential client authenticates with its secret".into(),
        )),
        _ => Err(unknown()),
    }
}
