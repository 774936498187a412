//! `/oauth/authorize`: the authorization endpoint as the person sees it —
//! the sign-in page first when signed out, then the consent page (the app,
//! its publisher, each scope in words, Allow or Deny), or straight back to
//! the app when a remembered consent covers what it asks. `POST
//! /oauth/consent` is the page's form. The rules are [`crate::oauth::authorize`]'s.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use landlord_console::{base, csp_with, encode, Page, PageError, Visitor};
use landlord_core::ApiError;
use landlord_identity::CurrentUser;
use serde_json::json;

use super::Pages;
use crate::oauth::authorize::{self, AuthorizeParams, AuthorizeRequest, Refusal};
use crate::scopes::SCOPES;

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/consent", post(decide))
}

/// Start a sign-in with Landlord (authorization code with PKCE S256). The
/// client and redirect URI are checked first: an unknown or suspended
/// client, or a redirect URI not registered byte for byte, is shown to
/// the person on a page (400) and never redirected to. Other refusals go
/// back to the redirect URI as `error`, `error_description` and `state`.
/// A signed-out person is sent to the sign-in page and comes back here;
/// then the consent page, or — when a remembered consent covers the
/// scopes — the redirect URI with `code` and `state`.
#[utoipa::path(
    get, path = "/oauth/authorize", tag = "OAuth",
    params(
        ("client_id" = String, Query, description = "The app's client id"),
        ("redirect_uri" = Option<String>, Query, description = "One of the app's registered redirect URIs, byte for byte (optional when it registered exactly one)"),
        ("response_type" = String, Query, description = "`code`"),
        ("scope" = Option<String>, Query, description = "Space-separated scopes, among the app's registered ones (all of them when omitted)"),
        ("state" = Option<String>, Query, description = "Returned as it is with the code or the error"),
        ("nonce" = Option<String>, Query, description = "Copied into the ID token"),
        ("code_challenge" = String, Query, description = "The unpadded base64url SHA-256 of the PKCE verifier (43 characters)"),
        ("code_challenge_method" = String, Query, description = "`S256` (`plain` is refused)"),
    ),
    responses(
        (status = 200, description = "The consent page", content_type = "text/html"),
        (status = 303, description = "To the sign-in page (signed out), or to the redirect URI with `code` and `state` (consent remembered) or `error`, `error_description` and `state`"),
        (status = 400, description = "A page: unknown or suspended client, or a redirect URI the app did not register", content_type = "text/html"),
        (status = 500, description = "An error page", content_type = "text/html"),
    )
)]
pub async fn authorize(
    State(pages): State<Pages>,
    visitor: Visitor,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let params = AuthorizeParams::from_query(query.as_deref().unwrap_or_default());
    let request = match authorize::validate(&pages.apps, &params).await {
        Ok(request) => request,
        Err(refusal) => return refused(&pages, &visitor, refusal).await,
    };
    let Some(user) = &visitor.user else {
        return Ok(sign_in_first(&pages, &visitor, &params));
    };
    let remembered = authorize::remembered(&pages.apps, &request, user)
        .await
        .map_err(ApiError::from)?;
    if let Some(consent) = remembered {
        let location = authorize::issue_code(&pages.apps, &request, user, &consent.id)
            .await
            .map_err(ApiError::from)?;
        return Ok(Page::redirect(location).into_response());
    }
    consent_page(&pages, &visitor, user, &request).await
}

/// `POST /oauth/consent`: Allow or Deny, with the request's parameters.
pub async fn decide(
    State(pages): State<Pages>,
    visitor: Visitor,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    visitor.check_csrf(&pages, field("csrf"))?;
    let params = AuthorizeParams::from_pairs(fields.iter().cloned());
    let request = match authorize::validate(&pages.apps, &params).await {
        Ok(request) => request,
        Err(refusal) => return refused(&pages, &visitor, refusal).await,
    };
    let Some(user) = &visitor.user else {
        return Ok(sign_in_first(&pages, &visitor, &params));
    };
    if field("decision") != "allow" {
        let location = authorize::error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "the person denied the request",
        );
        return Ok(Page::redirect(location).into_response());
    }
    let consent = authorize::allow(&pages.apps, &request, user)
        .await
        .map_err(ApiError::from)?;
    let location = authorize::issue_code(&pages.apps, &request, user, &consent)
        .await
        .map_err(ApiError::from)?;
    Ok(Page::redirect(location).into_response())
}

/// The sign-in page, which brings the person back to this request.
fn sign_in_first(pages: &Pages, visitor: &Visitor, params: &AuthorizeParams) -> Response {
    let next = params.authorize_path();
    Page::redirect(format!("/sign-in?next={}", encode(&next)))
        .cookie(visitor.stale_cookie.then(|| pages.clear_session_cookie()))
        .into_response()
}

async fn refused(
    pages: &Pages,
    visitor: &Visitor,
    refusal: Refusal,
) -> Result<Response, PageError> {
    match refusal {
        Refusal::Redirect(location) => Ok(Page::redirect(location).into_response()),
        Refusal::Page(message) => {
            let (mut context, token) = base(pages, visitor, "Sign-in refused", "", None).await?;
            context.insert("message".into(), message.into());
            Ok(Page::render("apps_oauth_error.html", context)?
                .cookie(token.set_cookie)
                .status(StatusCode::BAD_REQUEST)
                .into_response())
        }
    }
}

/// The origin of `uri` (`https://app.example.com`), as a CSP source.
fn origin_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

async fn consent_page(
    pages: &Pages,
    visitor: &Visitor,
    user: &CurrentUser,
    request: &AuthorizeRequest,
) -> Result<Response, PageError> {
    let app = &pages.apps;
    let publisher = authorize::publisher_name(app, &request.app.organization_id)
        .await
        .map_err(ApiError::from)?;
    let organization = authorize::publisher_name(app, &user.organization_id)
        .await
        .map_err(ApiError::from)?;
    let title = format!("Sign in to {}", request.app.name);
    let (mut context, token) = base(pages, visitor, &title, "", None).await?;
    let scopes: Vec<_> = SCOPES
        .iter()
        .filter(|s| request.scopes.contains(s.name))
        .map(|s| json!({ "name": s.name, "words": s.words }))
        .collect();
    let scope = request.scopes.to_oauth();
    let mut params = vec![
        ("client_id", request.app.id.to_string()),
        ("redirect_uri", request.redirect_uri.clone()),
        ("response_type", "code".to_string()),
        ("scope", scope),
        ("code_challenge", request.code_challenge.clone()),
        ("code_challenge_method", "S256".to_string()),
    ];
    params.extend(request.state.clone().map(|s| ("state", s)));
    params.extend(request.nonce.clone().map(|n| ("nonce", n)));
    let origin = origin_of(&request.redirect_uri);
    context.insert(
        "app".into(),
        json!({ "name": request.app.name, "publisher": publisher }),
    );
    context.insert("organization".into(), organization.into());
    context.insert("scopes".into(), scopes.into());
    context.insert(
        "params".into(),
        params
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect::<Vec<_>>()
            .into(),
    );
    context.insert(
        "redirect_origin".into(),
        origin.clone().unwrap_or_default().into(),
    );
    let mut response = Page::render("apps_consent.html", context)?
        .cookie(token.set_cookie)
        .into_response();
    // The form's answer redirects to the app: browsers hold that redirect
    // to the page's `form-action`, so it names the app's origin (and no
    // other); framing stays refused.
    if let Some(origin) = origin {
        let policy = csp_with(false, None).replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        );
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    Ok(response)
}
