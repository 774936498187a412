//! Who is calling an app: a person signed in to it (the app's own session
//! cookie set by the gateway's sign-in, or a person's access token), or an
//! installation (its client-credentials token).
//!
//! Only a token issued to *this* app identifies anyone on its host: a
//! token of another app identifies no one (otherwise an app could replay
//! its users' tokens at another app and be taken for them).
//!
//! The gateway's own paths on an app's host, under `/_landlord/`:
//!
//! - `GET /_landlord/sign-in?next=/path` sends the browser to Landlord's
//!   `/oauth/authorize` with the app as the client (PKCE S256, a `state`),
//!   and `{scheme}://{app host}/_landlord/callback` as the redirect URI
//!   (the scheme of Landlord's public URL), which the authorization
//!   endpoint accepts for the app's own subdomain without it being
//!   registered. The state, the verifier and where to go back
//!   to are kept ten minutes in a sealed cookie, `landlord_sign_in`.
//! - `GET /_landlord/callback` exchanges the code (inside the server, no
//!   HTTP) for an access token of the person, and keeps it sealed in the
//!   host-only, `HttpOnly`, `SameSite=Lax` cookie `landlord_visitor`
//!   (`Secure` when Landlord is served over https). The gateway session
//!   lasts as long as the access token (`apps.access_token_ttl_secs`,
//!   15 minutes by default); the refresh token is revoked at once, as the
//!   gateway never refreshes. Signing in again is a quick round of
//!   redirects while the person's Landlord session lasts and their
//!   consent is remembered.
//! - `GET|POST /_landlord/sign-out?next=/path` revokes that token and
//!   clears the cookie.
//! - `GET /_landlord/me` answers who the gateway takes the caller for:
//!   `{user_id, email, organization_id, installation_id}` (`email` only
//!   when the token was granted the `email` scope).
//!
//! Neither cookie reaches the app's upstream ([`strip_own_cookie`]).
//! Resolved tokens are cached a few seconds (keyed by the token's hash), so
//! a token sent on every request does not reach the database each time; a
//! revoked token stops working here within that delay.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use landlord_core::crypto::random_hex;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::hosts::{self, AppRoute};
use super::{pages, Gateway};
use crate::ids::InstallationId;
use crate::oauth::token::{exchange, TokenRequest};
use crate::oauth::OAuthError;
use crate::scopes::{Grantor, ScopeSet};
use crate::store::{self, AppRow, AppStatus, TokenKind};
use crate::tokens::{self, Grant};
use crate::AppsState;

/// The cookie holding a person's gateway session on an app's host.
pub const SESSION_COOKIE: &str = "landlord_visitor";
/// The cookie holding a sign-in in progress (state, verifier, return path).
pub const SIGN_IN_COOKIE: &str = "landlord_sign_in";
/// The gateway's own paths on every app's host start with this.
pub const OWN_PREFIX: &str = "/_landlord/";
/// Where the authorization endpoint sends the person back to.
pub const CALLBACK_PATH: &str = "/_landlord/callback";

/// How long a sign-in may take, from the app's host back to it.
const SIGN_IN_TTL: Duration = Duration::from_secs(600);
/// How long a resolved token is believed without asking the database.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// How many resolved tokens are kept at most.
const CACHE_ENTRIES: u64 = 10_000;

/// What the gateway knows of the caller.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// A person signed in to this app.
    pub user_id: Option<UserId>,
    /// The organization the caller acts in (an installation's, or the
    /// person's token's).
    pub organization_id: Option<OrganizationId>,
    /// The installation whose token was sent.
    pub installation_id: Option<InstallationId>,
    /// The scopes of the token that identified the caller.
    pub scopes: ScopeSet,
}

impl Visitor {
    fn of(grant: &Grant) -> Self {
        Self {
            user_id: grant.user_id.clone(),
            organization_id: grant.organization_id.clone(),
            installation_id: grant.installation_id.clone(),
            scopes: grant.scopes.clone(),
        }
    }

    /// Whether anyone was identified.
    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_none() && self.installation_id.is_none()
    }
}

/// Resolved tokens, briefly: the token's hash → what [`tokens::resolve`]
/// said (`None`: it identifies no one).
pub struct Visitors {
    grants: moka::sync::Cache<String, Option<Arc<Grant>>>,
}

impl Default for Visitors {
    fn default() -> Self {
        Self::new()
    }
}

impl Visitors {
    pub fn new() -> Self {
        Self {
            grants: moka::sync::Cache::builder()
                .max_capacity(CACHE_ENTRIES)
                .time_to_live(CACHE_TTL)
                .build(),
        }
    }

    /// The token `secret` if it still works (cached a few seconds).
    async fn grant(&self, apps: &AppsState, secret: &str, now: Timestamp) -> Option<Arc<Grant>> {
        let key = tokens::hash(secret);
        let grant = match self.grants.get(&key) {
            Some(cached) => cached,
            None => match tokens::resolve(&apps.db, secret, now).await {
                Ok(grant) => {
                    let grant = grant.map(Arc::new);
                    self.grants.insert(key, grant.clone());
                    grant
                }
                Err(error) => {
                    tracing::warn!(%error, "a visitor's token could not be resolved");
                    None
                }
            },
        };
        grant.filter(|g| g.expires_at > now)
    }

    /// Forgets what was known of `secret` (signed out).
    fn forget(&self, secret: &str) {
        self.grants.invalidate(&tokens::hash(secret));
    }
}

/// Who sent `headers` to the app of `route`: an `Authorization: Bearer
/// lla_…` access token issued to this app, else the gateway session
/// cookie of this app. A token or cookie issued to another app identifies
/// no one here.
pub async fn identify(gateway: &Gateway, route: &AppRoute, headers: &HeaderMap) -> Visitor {
    let now = Timestamp::now();
    if let Some(token) = bearer(headers).filter(|t| tokens::looks_like_app_token(t)) {
        if let Some(visitor) = visitor_of(gateway, route, token, now).await {
            return visitor;
        }
    }
    if let Some(token) = session_token(&gateway.apps, route, headers) {
        if let Some(visitor) = visitor_of(gateway, route, &token, now).await {
            return visitor;
        }
    }
    Visitor::default()
}

/// The caller `token` identifies on `route`'s host, if any.
async fn visitor_of(
    gateway: &Gateway,
    route: &AppRoute,
    token: &str,
    now: Timestamp,
) -> Option<Visitor> {
    let grant = gateway.visitors.grant(&gateway.apps, token, now).await?;
    (grant.app_id == route.app_id && grant.kind == TokenKind::Access).then(|| Visitor::of(&grant))
}

/// The token of `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// The value of the cookie `name` among those `headers` carry.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim())
}

/// Removes the gateway's own cookies from the `Cookie` header before the
/// request goes on to the app's upstream (they are the gateway's, and a
/// sealed session is no business of the app's).
pub fn strip_own_cookie(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map(|(n, _)| n).unwrap_or(pair);
            name != SESSION_COOKIE && name != SIGN_IN_COOKIE
        })
        .map(str::to_owned)
        .collect();
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    headers.remove(header::COOKIE);
    if kept.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&kept.join("; ")) {
        headers.insert(header::COOKIE, value);
    }
}

/// What sealed cookies of `route`'s app are bound to (a cookie of another
/// app does not open here).
fn context(kind: &str, route: &AppRoute) -> Vec<u8> {
    format!("landlord-gateway-{kind}:{}", route.app_id.as_str()).into_bytes()
}

/// The access token sealed in the session cookie of `route`'s app.
fn session_token(apps: &AppsState, route: &AppRoute, headers: &HeaderMap) -> Option<String> {
    let sealed = cookie(headers, SESSION_COOKIE)?;
    let opened = apps
        .identity
        .payload_cipher
        .open(sealed, &context("session", route))
        .ok()?;
    String::from_utf8(opened).ok()
}

/// The gateway's own paths on an app's host (signing in and out, and who
/// the caller is), if `request` is for one of them. Everything under
/// `/_landlord/` is the gateway's: other paths there answer 404.
pub async fn own_routes(
    gateway: &Gateway,
    route: &AppRoute,
    request: &mut Request,
) -> Option<Response> {
    let path = request.uri().path();
    if !path.starts_with(OWN_PREFIX) {
        return None;
    }
    let headers = request.headers();
    let query = request.uri().query().unwrap_or_default();
    let answer = match (request.method(), path) {
        (&Method::GET, "/_landlord/sign-in") => sign_in(gateway, route, headers, query).await,
        (&Method::GET, CALLBACK_PATH) => callback(gateway, route, headers, query).await,
        (&Method::GET | &Method::POST, "/_landlord/sign-out") => {
            sign_out(gateway, route, headers, query).await
        }
        (&Method::GET, "/_landlord/me") => me(gateway, route, headers).await,
        _ => pages::answer(
            headers,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found",
            "The gateway has nothing at this address.",
        ),
    };
    Some(answer)
}

/// A sign-in in progress, sealed in [`SIGN_IN_COOKIE`].
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    redirect_uri: String,
    next: String,
    /// Milliseconds since the epoch.
    expires_at: i64,
}

/// The value of the query parameter `name`.
fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// A return path on the app's own host: `/…`, never `//host` or `/\host`
/// (another site), else `/`.
fn local_path(next: Option<String>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.starts_with("/\\")
            && !n.chars().any(|c| c.is_control())
    })
    .unwrap_or_else(|| "/".into())
}

/// Whether Landlord is served over https (cookies are then `Secure`).
fn https(apps: &AppsState) -> bool {
    apps.config.public_url.starts_with("https://")
}

/// A `Set-Cookie` value for this app's host only (no `Domain`).
fn set_cookie(apps: &AppsState, name: &str, value: &str, path: &str, max_age: u64) -> String {
    let secure = if https(apps) { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// A redirect to `location` setting `cookies`.
fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unavailable(headers: &HeaderMap) -> Response {
    pages::unavailable(headers)
}

/// The app's gateway callback as the browser reaches it: the scheme of
/// Landlord's public URL, the host (and port) the request was sent to when
/// it is the app's subdomain.
fn callback_uri(apps: &AppsState, route: &AppRoute, headers: &HeaderMap) -> String {
    let scheme = if https(apps) { "https" } else { "http" };
    let own = format!("{}.{}", route.slug, apps.settings().domain);
    let sent = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| hosts::normalise(h) == own && !h.ends_with('.'))
        .unwrap_or(own);
    format!("{scheme}://{sent}{CALLBACK_PATH}")
}

/// Whether `uri` is the gateway's sign-in callback on `app`'s own
/// subdomain: the authorization endpoint accepts it as a redirect URI of a
/// published app without it being registered. Narrowly: exactly
/// `{scheme}://{slug}.{apps domain}[:port]/_landlord/callback` in its
/// canonical form, no user, query or fragment, and `http` only when
/// Landlord itself is served over http. The code it carries is useless
/// without the PKCE verifier, which only the gateway holds (sealed in the
/// browser's sign-in cookie).
pub fn is_gateway_callback(apps: &AppsState, app: &AppRow, uri: &str) -> bool {
    app.status == AppStatus::Published
        && callback_matches(uri, &app.slug, &apps.settings().domain, https(apps))
}

/// Whether `uri` is exactly `{scheme}://{slug}.{domain}[:port]` +
/// [`CALLBACK_PATH`], `https`, or `http` when Landlord is not on https.
fn callback_matches(uri: &str, slug: &str, domain: &str, platform_https: bool) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => !platform_https,
        _ => false,
    };
    let own = format!("{slug}.{domain}");
    scheme_ok
        && url.as_str() == uri
        && url.host_str() == Some(own.as_str())
        && url.path() == CALLBACK_PATH
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The scopes the gateway asks for: the identity scopes the app
/// registered (`openid profile email`), or when it registered none of
/// those, every registered scope a person may grant.
fn sign_in_scopes(app: &AppRow) -> ScopeSet {
    let registered = ScopeSet::from_json(&app.scopes);
    let identity: Vec<&str> = registered
        .iter()
        .filter(|s| matches!(*s, "openid" | "profile" | "email"))
        .collect();
    if !identity.is_empty() {
        return ScopeSet::from_names(identity);
    }
    let refused = registered.not_grantable(Grantor::Person);
    ScopeSet::from_names(registered.iter().filter(|s| !refused.contains(s)))
}

/// `GET /_landlord/sign-in?next=/path`: off to Landlord's authorization
/// endpoint.
async fn sign_in(
    gateway: &Gateway,
    route: &AppRoute,
    headers: &HeaderMap,
    query: &str,
) -> Response {
    let apps = &gateway.apps;
    let app = match store::app(apps.db.pool(), &route.app_id).await {
        Ok(Some(app)) => app,
        Ok(None) => return pages::no_such_app(headers),
        Err(error) => {
            tracing::error!(%error, "the app could not be read for a sign-in");
            return unavailable(headers);
        }
    };
    let scopes = sign_in_scopes(&app);
    if scopes.is_empty() {
        return pages::answer(
            headers,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "This app does not sign people in",
            "The app asks for no scope a person could grant, so there is nothing to sign in to.",
        );
    }
    let verifier = random_hex(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let pending = Pending {
        state: random_hex(16),
        verifier,
        redirect_uri: callback_uri(apps, route, headers),
        next: local_path(param(query, "next")),
        expires_at: Timestamp::now().plus(SIGN_IN_TTL).millis(),
    };
    let sealed = serde_json::to_vec(&pending)
        .ok()
        .and_then(|json| {
            apps.identity
                .payload_cipher
                .seal(&json, &context("sign-in", route))
                .ok()
        })
        .unwrap_or_default();
    if sealed.is_empty() {
        return unavailable(headers);
    }
    let mut authorize = url::form_urlencoded::Serializer::new(String::new());
    authorize
        .append_pair("client_id", app.id.as_str())
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &scopes.to_oauth())
        .append_pair("state", &pending.state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let location = format!(
        "{}/oauth/authorize?{}",
        apps.config.public_url.trim_end_matches('/'),
        authorize.finish()
    );
    let cookie = set_cookie(
        apps,
        SIGN_IN_COOKIE,
        &sealed,
        OWN_PREFIX.trim_end_matches('/'),
        SIGN_IN_TTL.as_secs(),
    );
    redirect(&location, &[cookie])
}

/// A sign-in that cannot go on: a page saying to start again.
fn start_again(headers: &HeaderMap, why: &str) -> Response {
    pages::answer(
        headers,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
        "Sign-in did not complete",
        &format!("{why} Go back to the app and sign in again."),
    )
}

/// `GET /_landlord/callback?code&state`: the code exchanged inside the
/// server, the person's gateway session set.
async fn callback(
    gateway: &Gateway,
    route: &AppRoute,
    headers: &HeaderMap,
    query: &str,
) -> Response {
    let apps = &gateway.apps;
    let pending = cookie(headers, SIGN_IN_COOKIE)
        .and_then(|sealed| {
            apps.identity
                .payload_cipher
                .open(sealed, &context("sign-in", route))
                .ok()
        })
        .and_then(|json| serde_json::from_slice::<Pending>(&json).ok())
        .filter(|p| p.expires_at > Timestamp::now().millis());
    let Some(pending) = pending else {
        return start_again(
            headers,
            "This sign-in has expired or was started elsewhere.",
        );
    };
    if param(query, "state").as_deref() != Some(pending.state.as_str()) {
        return start_again(headers, "This sign-in's answer does not match its request.");
    }
    let clear_pending = set_cookie(
        apps,
        SIGN_IN_COOKIE,
        "",
        OWN_PREFIX.trim_end_matches('/'),
        0,
    );
    if param(query, "error").is_some() {
        // Denied on the consent page: back to the app, signed out.
        return redirect(&pending.next, &[clear_pending]);
    }
    let Some(code) = param(query, "code") else {
        return start_again(headers, "This sign-in's answer carries no code.");
    };
    let app = match store::app(apps.db.pool(), &route.app_id).await {
        Ok(Some(app)) => app,
        Ok(None) => return pages::no_such_app(headers),
        Err(error) => {
            tracing::error!(%error, "the app could not be read for a sign-in");
            return unavailable(headers);
        }
    };
    let form = TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code),
        redirect_uri: Some(pending.redirect_uri.clone()),
        code_verifier: Some(pending.verifier.clone()),
        ..TokenRequest::default()
    };
    let issued = match exchange(apps, &app, &form).await {
        Ok(issued) => issued,
        Err(OAuthError::Server(error)) => {
            tracing::error!(error = format!("{error:#}"), "a gateway sign-in failed");
            return unavailable(headers);
        }
        Err(refused) => {
            tracing::info!(error = %refused, app = %route.slug, "a gateway sign-in was refused");
            return start_again(headers, "Landlord did not accept this sign-in.");
        }
    };
    // The gateway never refreshes: the refresh token would only linger.
    if let Some(refresh) = issued.refresh_token.as_deref() {
        if let Err(error) = revoke(apps, refresh).await {
            tracing::warn!(%error, "a gateway sign-in's refresh token could not be revoked");
        }
    }
    let Ok(sealed) = apps
        .identity
        .payload_cipher
        .seal(issued.access_token.as_bytes(), &context("session", route))
    else {
        return unavailable(headers);
    };
    let session = set_cookie(apps, SESSION_COOKIE, &sealed, "/", issued.expires_in);
    redirect(&pending.next, &[session, clear_pending])
}

/// Revokes the token `secret`.
async fn revoke(apps: &AppsState, secret: &str) -> Result<(), sqlx::Error> {
    if let Some(row) = store::token_by_hash(apps.db.pool(), &tokens::hash(secret)).await? {
        store::revoke_token(apps.db.pool(), &row.id, Timestamp::now()).await?;
    }
    Ok(())
}

/// `/_landlord/sign-out?next=/path`: the session's token revoked, the
/// cookie cleared.
async fn sign_out(
    gateway: &Gateway,
    route: &AppRoute,
    headers: &HeaderMap,
    query: &str,
) -> Response {
    let apps = &gateway.apps;
    if let Some(token) = session_token(apps, route, headers) {
        if let Err(error) = revoke(apps, &token).await {
            tracing::error!(%error, "a gateway session could not be revoked");
            return unavailable(headers);
        }
        gateway.visitors.forget(&token);
    }
    let clear = set_cookie(apps, SESSION_COOKIE, "", "/", 0);
    redirect(&local_path(param(query, "next")), &[clear])
}

/// What `/_landlord/me` answers.
#[derive(Debug, Serialize)]
struct Me {
    user_id: Option<UserId>,
    /// Only when the token was granted the `email` scope.
    email: Option<String>,
    organization_id: Option<OrganizationId>,
    installation_id: Option<InstallationId>,
}

/// `GET /_landlord/me`: who the gateway takes the caller for.
async fn me(gateway: &Gateway, route: &AppRoute, headers: &HeaderMap) -> Response {
    let visitor = identify(gateway, route, headers).await;
    let mut email = None;
    if let (Some(user_id), true) = (&visitor.user_id, visitor.scopes.contains("email")) {
        match landlord_identity::store::user_by_id(gateway.apps.db.pool(), user_id).await {
            Ok(user) => email = user.map(|u| u.email),
            Err(error) => {
                tracing::error!(%error, "a visitor's email could not be read");
                return unavailable(headers);
            }
        }
    }
    let body = Me {
        user_id: visitor.user_id,
        email,
        organization_id: visitor.organization_id,
        installation_id: visitor.installation_id,
    };
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_cookies_are_taken_out_and_the_others_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; landlord_visitor=v1:ab; b=2"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("landlord_sign_in=v1:cd"),
        );
        strip_own_cookie(&mut headers);
        assert_eq!(
            headers.get_all(header::COOKIE).iter().collect::<Vec<_>>(),
            vec!["a=1; b=2"]
        );
        let mut only_ours = HeaderMap::new();
        only_ours.insert(
            header::COOKIE,
            HeaderValue::from_static("landlord_visitor=x"),
        );
        strip_own_cookie(&mut only_ours);
        assert!(!only_ours.contains_key(header::COOKIE));
        let mut none = HeaderMap::new();
        strip_own_cookie(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn only_the_apps_own_callback_is_taken() {
        let ok = |uri: &str, https: bool| callback_matches(uri, "notes", "apps.localhost", https);
        assert!(ok("http://notes.apps.localhost/_landlord/callback", false));
        assert!(ok(
            "http://notes.apps.localhost:8080/_landlord/callback",
            false
        ));
        assert!(ok("https://notes.apps.localhost/_landlord/callback", true));
        assert!(ok("https://notes.apps.localhost/_landlord/callback", false));
        // Plain http when Landlord itself is on https: no.
        assert!(!ok("http://notes.apps.localhost/_landlord/callback", true));
        for wrong in [
            "http://ledger.apps.localhost/_landlord/callback",
            "http://NOTES.apps.localhost/_landlord/callback",
            "http://notes.apps.localhost/_landlord/callback?x=1",
            "http://notes.apps.localhost/_landlord/callback#f",
            "http://notes.apps.localhost/_landlord/callback/",
            "http://notes.apps.localhost/_landlord/../_landlord/callback",
            "http://user@notes.apps.localhost/_landlord/callback",
            "http://notes.apps.localhost.evil.example/_landlord/callback",
            "http://x.notes.apps.localhost/_landlord/callback",
            "ftp://notes.apps.localhost/_landlord/callback",
            "notes.apps.localhost/_landlord/callback",
        ] {
            assert!(!ok(wrong, false), "{wrong}");
        }
    }

    #[test]
    fn return_paths_stay_on_the_apps_host() {
        assert_eq!(local_path(Some("/notes/1?x=2".into())), "/notes/1?x=2");
        for elsewhere in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example",
            "",
        ] {
            assert_eq!(local_path(Some(elsewhere.into())), "/", "{elsewhere}");
        }
        assert_eq!(local_path(None), "/");
    }
}
