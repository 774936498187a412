//! `/oauth/token`, `/oauth/revoke`, `/oauth/introspect` and
//! `/oauth/userinfo`: the provider's endpoints that clients call (thin:
//! each calls [`crate::oauth`]). `/oauth/authorize` is a console page
//! ([`crate::pages`]); its description is here.

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use utoipa::OpenApi;

use crate::oauth::introspect::{self, Introspection, TokenForm, UserInfo};
use crate::oauth::token::{self, TokenRequest};
use crate::oauth::{
    authenticate_client, ClientCredentials, OAuthError, OAuthErrorBody, TokenResponse,
};
use crate::store::AppRow;
use crate::AppsState;

pub const TAG: &str = "OAuth";

/// The description of `/oauth/authorize`, served by the console.
#[derive(OpenApi)]
#[openapi(paths(crate::pages::consent::authorize), modifiers(&AccessTokenScheme))]
pub struct AuthorizeDoc;

/// Declares `oauth_access_token`: an access token this provider issued.
struct AccessTokenScheme;

impl utoipa::Modify for AccessTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "oauth_access_token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An access token (lla_…) from /oauth/token, with the openid scope",
                        ))
                        .build(),
                ),
            );
    }
}

/// A form the endpoint could not read: OAuth's `invalid_request`.
fn form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, OAuthError> {
    form.map(|Form(t)| t)
        .map_err(|rejection| OAuthError::InvalidRequest(rejection.body_text()))
}

/// JSON that no cache keeps (RFC 6749 §5.1).
fn no_store<T: serde::Serialize>(body: T) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Exchange a grant for tokens: an authorization code (with its PKCE
/// verifier), a refresh token (rotated: the answer carries a new one), or
/// client credentials (an installation's token). The client authenticates
/// with HTTP Basic (`client_secret_basic`), `client_id` and
/// `client_secret` in the form (`client_secret_post`), or, a public
/// client, `client_id` alone (`none`).
#[utoipa::path(
    post, path = "/oauth/token", tag = "OAuth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (with an `id_token` when `openid` was granted); `Cache-Control: no-store`", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant` (a code or refresh token that does not hold; a replayed code revokes its tokens, a reused refresh token its family), `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: unknown client, wrong or missing secret, suspended app", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppsState>,
    headers: HeaderMap,
    body: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Response, OAuthError> {
    let body = form(body)?;
    let app = client(&state, &headers, &body.client_id, &body.client_secret).await?;
    Ok(no_store(token::exchange(&state, &app, &body).await?))
}

/// Revoke a token (RFC 7009): a refresh token with every token of its
/// sign-in, an access token alone. An unknown token, one revoked already
/// or another client's answers 200 as well, and nothing is revoked.
#[utoipa::path(
    post, path = "/oauth/revoke", tag = "OAuth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or there was nothing of this client's to revoke"),
        (status = 400, description = "`invalid_request`: no `token`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppsState>,
    headers: HeaderMap,
    body: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let body = form(body)?;
    let app = client(&state, &headers, &body.client_id, &body.client_secret).await?;
    introspect::revoke(&state, &app, &body).await?;
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
    )
        .into_response())
}

/// Whether a token is active (RFC 7662), for the client it was issued
/// to: the caller authenticates as a client. An inactive token — or
/// another client's — answers exactly `{"active": false}`.
#[utoipa::path(
    post, path = "/oauth/introspect", tag = "OAuth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state", body = Introspection),
        (status = 400, description = "`invalid_request`: no `token`", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: the caller is not an authenticated client", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
    )
)]
pub async fn introspect(
    State(state): State<AppsState>,
    headers: HeaderMap,
    body: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    let body = form(body)?;
    let app = client(&state, &headers, &body.client_id, &body.client_secret).await?;
    Ok(no_store(introspect::introspect(&state, &app, &body).await?))
}

/// The client a token-endpoint request proves (Basic, or the form's
/// `client_id` / `client_secret`, or a public client's id alone).
async fn client(
    state: &AppsState,
    headers: &HeaderMap,
    client_id: &Option<String>,
    client_secret: &Option<String>,
) -> Result<AppRow, OAuthError> {
    let credentials =
        ClientCredentials::from_request(headers, client_id.as_deref(), client_secret.as_deref())?;
    authenticate_client(state, &credentials).await
}

/// The bearer token of `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The signed-in person's claims (OpenID Connect): `sub`, and `name`,
/// `email`, `email_verified` as the access token's scopes allow. The
/// access token (with `openid`) comes as `Authorization: Bearer`.
#[utoipa::path(
    get, path = "/oauth/userinfo", tag = "OAuth",
    security(("oauth_access_token" = [])),
    responses(
        (status = 200, description = "The person's claims", body = UserInfo),
        (status = 401, description = "`invalid_token`: missing, expired or revoked (`WWW-Authenticate: Bearer`)", body = OAuthErrorBody),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
    )
)]
pub async fn userinfo(
    State(state): State<AppsState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        introspect::userinfo(&state, bearer(&headers)).await?,
    ))
}

/// [`userinfo`], by POST (OpenID Connect Core §5.3.1).
#[utoipa::path(
    post, path = "/oauth/userinfo", tag = "OAuth",
    security(("oauth_access_token" = [])),
    responses(
        (status = 200, description = "The person's claims", body = UserInfo),
        (status = 401, description = "`invalid_token`: missing, expired or revoked (`WWW-Authenticate: Bearer`)", body = OAuthErrorBody),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = OAuthErrorBody),
        (status = 500, description = "`server_error`", body = OAuthErrorBody),
    )
)]
pub async fn userinfo_post(
    State(state): State<AppsState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    Ok(no_store(
        introspect::userinfo(&state, bearer(&headers)).await?,
    ))
}
