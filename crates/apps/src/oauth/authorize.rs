//! The authorization endpoint's rules (RFC 6749 §4.1, OAuth 2.1, RFC 7636):
//! which client and redirect URI a request names — checked first, and a
//! mismatch shown to the person, never redirected to — then the request's
//! own parameters, refused back to the app's redirect URI; the person's
//! remembered consent; and the code, single use and bound to the client,
//! the redirect URI, the PKCE challenge and the person.

use std::time::Duration;

use landlord_core::ids::OrganizationId;
use landlord_core::Timestamp;
use landlord_identity::CurrentUser;

use crate::config::CODE_TTL_SECS;
use crate::ids::{AppId, ConsentId};
use crate::scopes::{Grantor, ScopeSet};
use crate::store::{self, AppRow, AppStatus, CodeRow, ConsentRow};
use crate::{tokens, AppsState};

/// The parameters of an authorization request, as sent (query string, or
/// the consent form's hidden fields).
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// Parameters sent more than once (RFC 6749 §3.1 forbids it).
    pub repeated: Vec<String>,
}

/// The parameters the consent form carries back.
pub const PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

impl AuthorizeParams {
    /// From name/value pairs; unknown names are ignored (RFC 6749 §3.1).
    pub fn from_pairs<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "client_id" => &mut params.client_id,
                "redirect_uri" => &mut params.redirect_uri,
                "response_type" => &mut params.response_type,
                "scope" => &mut params.scope,
                "state" => &mut params.state,
                "nonce" => &mut params.nonce,
                "code_challenge" => &mut params.code_challenge,
                "code_challenge_method" => &mut params.code_challenge_method,
                _ => continue,
            };
            if slot.is_some() {
                params.repeated.push(name);
            } else {
                *slot = Some(value);
            }
        }
        params
    }

    /// From a URL's query string.
    pub fn from_query(query: &str) -> Self {
        Self::from_pairs(url::form_urlencoded::parse(query.as_bytes()).into_owned())
    }

    /// The parameters as name/value pairs (those given).
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let values = [
            &self.client_id,
            &self.redirect_uri,
            &self.response_type,
            &self.scope,
            &self.state,
            &self.nonce,
            &self.code_challenge,
            &self.code_challenge_method,
        ];
        PARAMS
            .iter()
            .zip(values)
            .filter_map(|(name, value)| value.as_deref().map(|v| (*name, v)))
            .collect()
    }

    /// `/oauth/authorize?…` with these parameters: where a person who
    /// signs in first comes back to.
    pub fn authorize_path(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.pairs() {
            query.append_pair(name, value);
        }
        format!("/oauth/authorize?{}", query.finish())
    }
}

/// A request that holds: the app, where to send the person back, what it
/// asks for.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub app: AppRow,
    pub redirect_uri: String,
    pub scopes: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The client or the redirect URI cannot be trusted: a page tells the
    /// person, and nothing is redirected.
    Page(String),
    /// The app's redirect URI with `error`, `error_description` and
    /// `state` (RFC 6749 §4.1.2.1).
    Redirect(String),
}

/// `redirect_uri` with `pairs` added to its query.
pub fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

/// The redirect carrying an error to the app.
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    with_query(redirect_uri, &pairs)
}

/// Is `challenge` an S256 challenge: the unpadded base64url of a SHA-256,
/// 43 characters?
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The redirect URI the request names, checked against the app's
/// registered ones byte for byte; when it names none, the only one
/// registered.
pub fn pick_redirect_uri(registered: &[String], given: Option<&str>) -> Result<String, String> {
    match given {
        Some(uri) if registered.iter().any(|r| r == uri) => Ok(uri.to_owned()),
        Some(_) => Err(
            "The redirect URI of this request is not one the app registered, so you are not \
             sent there. Tell the app's developer."
                .into(),
        ),
        None => match registered {
            [only] => Ok(only.clone()),
            _ => Err(
                "This request names no redirect URI and the app registered several (or none), \
                 so there is nowhere safe to send you back. Tell the app's developer."
                    .into(),
            ),
        },
    }
}

/// Checks a request in RFC 6749's order: the client and the redirect URI
/// first (refused on a page), then the rest (refused to the redirect URI).
pub async fn validate(
    state: &AppsState,
    params: &AuthorizeParams,
) -> Result<AuthorizeRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_owned());
    if params
        .repeated
        .iter()
        .any(|p| p == "client_id" || p == "redirect_uri")
    {
        return Err(page(
            "This sign-in request names its app or its redirect URI more than once.",
        ));
    }
    let Some(client_id) = params.client_id.as_deref().filter(|c| !c.is_empty()) else {
        return Err(page(
            "This sign-in request does not say which app it is for.",
        ));
    };
    let unknown = "This sign-in request is for an app Landlord does not know (or no longer \
                   serves). Tell the app's developer.";
    let app_id = AppId::parse(client_id).ok_or_else(|| page(unknown))?;
    let app = store::app(state.db.pool(), &app_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "the authorization request's app could not be read");
            page("Something went wrong. Try again in a moment.")
        })?
        .filter(|app| app.status != AppStatus::Suspended)
        .ok_or_else(|| page(unknown))?;
    let redirect_uri = match params.redirect_uri.as_deref() {
        // The gateway's own sign-in on the app's subdomain
        // (`/_landlord/callback`, see `gateway::visitor`): implicitly
        // registered for every published app, and only in that exact form.
        Some(uri) if crate::gateway::visitor::is_gateway_callback(state, &app, uri) => {
            uri.to_owned()
        }
        given => pick_redirect_uri(&app.redirect_uris(), given).map_err(Refusal::Page)?,
    };
    let st = params.state.as_deref();
    let refuse = |error: &str, description: &str| {
        Refusal::Redirect(error_redirect(&redirect_uri, st, error, description))
    };
    if let Some(name) = params.repeated.first() {
        return Err(refuse(
            "invalid_request",
            &format!("the parameter {name} is repeated"),
        ));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
    }
    let Some(challenge) = params.code_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return Err(refuse(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(refuse(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        ));
    }
    if !is_s256_challenge(challenge) {
        return Err(refuse(
            "invalid_request",
            "code_challenge must be the unpadded base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    let registered = ScopeSet::from_json(&app.scopes);
    let scopes = match params.scope.as_deref().map(ScopeSet::parse) {
        Some(asked) if !asked.is_empty() => asked,
        _ => registered.clone(),
    };
    let outside: Vec<&str> = scopes
        .iter()
        .filter(|s| !registered.contains(s))
        .chain(scopes.not_grantable(Grantor::Person))
        .collect();
    if !outside.is_empty() {
        return Err(refuse(
            "invalid_scope",
            &format!(
                "not among the app's registered scopes: {}",
                outside.join(" ")
            ),
        ));
    }
    if scopes.is_empty() {
        return Err(refuse("invalid_scope", "the app asks for no scope"));
    }
    Ok(AuthorizeRequest {
        redirect_uri: redirect_uri.clone(),
        app,
        scopes,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge: challenge.to_owned(),
    })
}

/// The person's live consent to the request's app, in their active
/// organization, when it covers everything the request asks for.
pub async fn remembered(
    state: &AppsState,
    request: &AuthorizeRequest,
    user: &CurrentUser,
) -> Result<Option<ConsentRow>, sqlx::Error> {
    let consent = store::live_consent(
        state.db.pool(),
        &user.user_id,
        &request.app.id,
        &user.organization_id,
    )
    .await?;
    Ok(consent.filter(|c| request.scopes.is_subset(&ScopeSet::from_json(&c.scopes))))
}

/// Remembers that the person allowed the request's scopes (widening the
/// consent they gave before, if any).
pub async fn allow(
    state: &AppsState,
    request: &AuthorizeRequest,
    user: &CurrentUser,
) -> Result<ConsentId, sqlx::Error> {
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let existing = store::live_consent(
        &mut *tx,
        &user.user_id,
        &request.app.id,
        &user.organization_id,
    )
    .await?;
    let id = match existing {
        Some(consent) => {
            let granted = ScopeSet::from_names(
                ScopeSet::from_json(&consent.scopes)
                    .names()
                    .into_iter()
                    .chain(request.scopes.names()),
            );
            store::update_consent_scopes(&mut *tx, &consent.id, &granted.to_json(), now).await?;
            consent.id
        }
        None => {
            let row = ConsentRow {
                id: ConsentId::generate(),
                user_id: user.user_id.clone(),
                app_id: request.app.id.clone(),
                organization_id: Some(user.organization_id.clone()),
                scopes: request.scopes.to_json(),
                created_at: now,
                updated_at: now,
                revoked_at: None,
            };
            store::insert_consent(&mut *tx, &row).await?;
            row.id
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// When the person signed in (their browser session's start).
async fn auth_time(state: &AppsState, user: &CurrentUser) -> Result<Timestamp, sqlx::Error> {
    let sessions =
        landlord_identity::store::active_sessions(state.db.pool(), &user.user_id).await?;
    Ok(sessions
        .into_iter()
        .find(|s| s.family_id == user.session_id)
        .map(|s| s.started_at)
        .unwrap_or_else(Timestamp::now))
}

/// Issues a code for the request and returns where the person goes next:
/// the redirect URI with `code` and `state`.
pub async fn issue_code(
    state: &AppsState,
    request: &AuthorizeRequest,
    user: &CurrentUser,
    consent_id: &ConsentId,
) -> Result<String, sqlx::Error> {
    let code = tokens::new_secret(tokens::CODE_PREFIX);
    let now = Timestamp::now();
    let row = CodeRow {
        code_hash: tokens::hash(&code),
        app_id: request.app.id.clone(),
        user_id: user.user_id.clone(),
        organization_id: Some(user.organization_id.clone()),
        consent_id: Some(consent_id.clone()),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        scopes: request.scopes.to_json(),
        nonce: request.nonce.clone(),
        auth_time: auth_time(state, user).await?,
        created_at: now,
        expires_at: now.plus(Duration::from_secs(CODE_TTL_SECS)),
        used_at: None,
    };
    // Codes long expired are of no use to anyone: forget them as new ones come.
    store::delete_expired_codes(state.db.pool(), now.minus(Duration::from_secs(3600))).await?;
    store::insert_code(state.db.pool(), &row).await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(st) = request.state.as_deref() {
        pairs.push(("state", st));
    }
    Ok(with_query(&request.redirect_uri, &pairs))
}

/// Who publishes the app (its organization's name).
pub async fn publisher_name(
    state: &AppsState,
    organization_id: &OrganizationId,
) -> Result<String, sqlx::Error> {
    Ok(
        landlord_identity::store::organization_by_id(state.db.pool(), organization_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_byte_for_byte() {
        let one = vec!["https://app.example.com/cb".to_string()];
        assert_eq!(
            pick_redirect_uri(&one, Some("https://app.example.com/cb")),
            Ok("https://app.example.com/cb".into())
        );
        for bad in [
            "https://app.example.com/cb/",
            "https://app.example.com/cB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/c",
            "https://app.example.com/cb.evil.com",
            "HTTPS://app.example.com/cb",
        ] {
            assert!(pick_redirect_uri(&one, Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            pick_redirect_uri(&one, None),
            Ok("https://app.example.com/cb".into())
        );
        let two = vec![one[0].clone(), "https://app.example.com/other".into()];
        assert!(pick_redirect_uri(&two, None).is_err());
        assert!(pick_redirect_uri(&[], None).is_err());
    }

    #[test]
    fn params_keep_repeats_and_errors_keep_the_query() {
        let params = AuthorizeParams::from_query("client_id=a&state=x&state=y&foo=1");
        assert_eq!(params.repeated, vec!["state".to_string()]);
        assert_eq!(params.state.as_deref(), Some("x"));
        assert_eq!(
            error_redirect(
                "https://a.example/cb?k=v",
                Some("s t"),
                "access_denied",
                "no"
            ),
            "https://a.example/cb?k=v&error=access_denied&error_description=no&state=s+t"
        );
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge("short"));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
