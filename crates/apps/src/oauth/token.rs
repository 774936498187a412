//! The token endpoint's grants (RFC 6749 §4.1.3, §6, §4.4): an
//! authorization code for tokens (PKCE S256; a replayed code revokes what
//! it issued), a refresh token for a new pair (rotated on every use, a
//! short grace for concurrent refreshes, reuse after it revokes the
//! family), and the client-credentials grant of an installation.

use std::time::Duration;

use base64::Engine;
use landlord_core::crypto::constant_time_eq;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::ids::{ConsentId, TokenFamilyId, TokenId};
use crate::oauth::{OAuthError, TokenResponse};
use crate::scopes::ScopeSet;
use crate::store::{self, AppRow, ClientType, TokenKind, TokenRow};
use crate::{installations, signing, tokens, AppsState};

/// `POST /oauth/token`'s form (`application/x-www-form-urlencoded`).
/// Parameters a grant does not use are ignored.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    #[schema(example = "authorization_code")]
    pub grant_type: Option<String>,
    /// The code the redirect carried (`authorization_code`).
    #[schema(max_length = 200)]
    pub code: Option<String>,
    /// The redirect URI of the authorization request, byte for byte
    /// (`authorization_code`).
    #[schema(max_length = 2000)]
    pub redirect_uri: Option<String>,
    /// The PKCE verifier whose S256 challenge the authorization request
    /// carried: 43 to 128 of `A-Z a-z 0-9 - . _ ~` (`authorization_code`).
    #[schema(max_length = 128)]
    pub code_verifier: Option<String>,
    /// The refresh token (`refresh_token`).
    #[schema(max_length = 200)]
    pub refresh_token: Option<String>,
    /// Space-separated scopes: for `refresh_token`, a subset of those
    /// granted; for `client_credentials`, of the installation's.
    #[schema(max_length = 2000)]
    pub scope: Option<String>,
    /// `client_secret_post` and public clients (`none`).
    #[schema(max_length = 200)]
    pub client_id: Option<String>,
    /// `client_secret_post`.
    #[schema(max_length = 200)]
    pub client_secret: Option<String>,
    /// The installation whose token is asked for (`client_credentials`).
    #[schema(max_length = 200)]
    pub installation_id: Option<String>,
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

/// Is `verifier` one whose S256 challenge is `challenge` (RFC 7636 §4.6)?
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !shaped {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// Answers a token request from the authenticated client `app`.
pub async fn exchange(
    state: &AppsState,
    app: &AppRow,
    form: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    match required(&form.grant_type, "grant_type")? {
        "authorization_code" => authorization_code(state, app, form).await,
        "refresh_token" => refresh(state, app, form).await,
        "client_credentials" => {
            if app.client_type == ClientType::Public {
                return Err(OAuthError::UnauthorizedClient(
                    "a public client may not use client_credentials".into(),
                ));
            }
            let scopes = ScopeSet::parse(form.scope.as_deref().unwrap_or_default());
            installations::client_credentials(state, app, &scopes, form.installation_id.as_deref())
                .await
        }
        other => Err(OAuthError::UnsupportedGrantType(format!(
            "grant_type {other} is not supported (authorization_code, refresh_token, \
             client_credentials)"
        ))),
    }
}

/// What the tokens of one sign-in share.
struct Issue<'a> {
    app: &'a AppRow,
    user_id: &'a UserId,
    organization_id: Option<&'a OrganizationId>,
    consent_id: Option<&'a ConsentId>,
    family_id: &'a TokenFamilyId,
    code_hash: Option<&'a str>,
    scopes: &'a ScopeSet,
}

/// A new access and refresh token for `issue`, stored hashed in `tx`.
async fn issue_pair(
    state: &AppsState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    issue: &Issue<'_>,
    now: Timestamp,
) -> Result<(String, String), sqlx::Error> {
    let settings = state.settings();
    let mut issued = Vec::new();
    for (kind, prefix, ttl) in [
        (
            TokenKind::Access,
            tokens::ACCESS_PREFIX,
            settings.access_token_ttl_secs,
        ),
        (
            TokenKind::Refresh,
            tokens::REFRESH_PREFIX,
            settings.refresh_token_ttl_secs,
        ),
    ] {
        let secret = tokens::new_secret(prefix);
        let row = TokenRow {
            id: TokenId::generate(),
            token_hash: tokens::hash(&secret),
            kind,
            app_id: issue.app.id.clone(),
            user_id: Some(issue.user_id.clone()),
            organization_id: issue.organization_id.cloned(),
            installation_id: None,
            consent_id: issue.consent_id.cloned(),
            family_id: Some(issue.family_id.clone()),
            code_hash: issue.code_hash.map(str::to_owned),
            scopes: issue.scopes.to_json(),
            created_at: now,
            expires_at: now.plus(Duration::from_secs(ttl)),
            rotated_at: None,
            revoked_at: None,
        };
        store::insert_token(&mut **tx, &row).await?;
        issued.push(secret);
    }
    let refresh = issued.pop().unwrap_or_default();
    let access = issued.pop().unwrap_or_default();
    Ok((access, refresh))
}

fn answer(
    state: &AppsState,
    access: String,
    refresh: String,
    scopes: &ScopeSet,
    id_token: Option<String>,
) -> TokenResponse {
    TokenResponse {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: state.settings().access_token_ttl_secs,
        refresh_token: Some(refresh),
        scope: scopes.to_oauth(),
        id_token,
    }
}

async fn authorization_code(
    state: &AppsState,
    app: &AppRow,
    form: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    let code = required(&form.code, "code")?;
    let redirect_uri = required(&form.redirect_uri, "redirect_uri")?;
    let verifier = required(&form.code_verifier, "code_verifier")?;
    let code_hash = tokens::hash(code);
    let now = Timestamp::now();
    let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
    let Some(row) = store::code_by_hash(state.db.pool(), &code_hash).await? else {
        return Err(invalid("unknown code"));
    };
    if row.used_at.is_some() {
        return Err(replayed(state, &code_hash, now).await);
    }
    if row.app_id != app.id {
        return Err(invalid("the code was issued to another client"));
    }
    if row.expires_at <= now {
        return Err(invalid("the code has expired"));
    }
    if row.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !pkce_matches(verifier, &row.code_challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    let mut tx = state.db.begin().await?;
    if !store::use_code(&mut *tx, &code_hash, now).await? {
        // Another request used it first: this one is a replay.
        drop(tx);
        return Err(replayed(state, &code_hash, now).await);
    }
    let scopes = ScopeSet::from_json(&row.scopes);
    let family_id = TokenFamilyId::generate();
    let issue = Issue {
        app,
        user_id: &row.user_id,
        organization_id: row.organization_id.as_ref(),
        consent_id: row.consent_id.as_ref(),
        family_id: &family_id,
        code_hash: Some(&code_hash),
        scopes: &scopes,
    };
    let (access, refresh) = issue_pair(state, &mut tx, &issue, now).await?;
    tx.commit().await?;
    let id_token = if scopes.contains("openid") {
        Some(
            id_token(
                state,
                app,
                &row.user_id,
                &scopes,
                row.auth_time,
                row.nonce.as_deref(),
                now,
            )
            .await?,
        )
    } else {
        None
    };
    Ok(answer(state, access, refresh, &scopes, id_token))
}

/// A used code came back: every token it issued is revoked (RFC 6749
/// §4.1.2), and the request refused.
async fn replayed(state: &AppsState, code_hash: &str, now: Timestamp) -> OAuthError {
    match store::revoke_issued_by_code(state.db.pool(), code_hash, now).await {
        Ok(revoked) => {
            tracing::warn!(
                revoked,
                "an authorization code was replayed; its tokens are revoked"
            );
            OAuthError::InvalidGrant("the code was already used; its tokens are revoked".into())
        }
        Err(error) => error.into(),
    }
}

/// The ID token of a sign-in (OpenID Connect Core §2), signed RS256.
async fn id_token(
    state: &AppsState,
    app: &AppRow,
    user_id: &UserId,
    scopes: &ScopeSet,
    auth_time: Timestamp,
    nonce: Option<&str>,
    now: Timestamp,
) -> Result<String, OAuthError> {
    let issued_at = now.millis() / 1000;
    let mut claims = json!({
        "iss": state.config.public_url.trim_end_matches('/'),
        "sub": user_id,
        "aud": app.id,
        "iat": issued_at,
        "exp": issued_at + state.settings().id_token_ttl_secs as i64,
        "auth_time": auth_time.millis() / 1000,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = nonce.into();
    }
    if let Some(object) = claims.as_object_mut() {
        for (name, value) in person_claims(state, user_id, scopes).await? {
            object.insert(name.into(), value);
        }
    }
    Ok(signing::sign_id_token(state, &claims).await?)
}

/// The claims about the person that `scopes` allow: `name` (profile),
/// `email` and `email_verified` (email).
pub async fn person_claims(
    state: &AppsState,
    user_id: &UserId,
    scopes: &ScopeSet,
) -> Result<Vec<(&'static str, serde_json::Value)>, OAuthError> {
    let mut claims = Vec::new();
    if !(scopes.contains("profile") || scopes.contains("email")) {
        return Ok(claims);
    }
    let Some(user) = landlord_identity::store::user_by_id(state.db.pool(), user_id).await? else {
        return Ok(claims);
    };
    if scopes.contains("profile") {
        claims.push(("name", user.name.unwrap_or_default().into()));
    }
    if scopes.contains("email") {
        claims.push(("email", user.email.into()));
        claims.push(("email_verified", user.email_verified_at.is_some().into()));
    }
    Ok(claims)
}

async fn refresh(
    state: &AppsState,
    app: &AppRow,
    form: &TokenRequest,
) -> Result<TokenResponse, OAuthError> {
    let presented = required(&form.refresh_token, "refresh_token")?;
    let invalid = || OAuthError::InvalidGrant("the refresh token is not valid".into());
    let now = Timestamp::now();
    let token_hash = tokens::hash(presented);
    let Some(row) = store::token_by_hash(state.db.pool(), &token_hash).await? else {
        return Err(invalid());
    };
    if row.kind != TokenKind::Refresh || row.app_id != app.id {
        return Err(invalid());
    }
    let family_id = row.family_id.clone().ok_or_else(invalid)?;
    // Whether it still works at all (revoked, expired, consent withdrawn,
    // person removed, app suspended) is `resolve`'s to say.
    let Some(grant) = tokens::resolve(&state.db, presented, now).await? else {
        if row.rotated_at.is_some() && row.revoked_at.is_some() {
            // Spent: rotated, and its one grace use taken (or its family
            // revoked already). Using it again is a reuse.
            return Err(reused(state, &family_id, now).await);
        }
        return Err(invalid());
    };
    let grace = Duration::from_secs(state.settings().refresh_reuse_grace_secs);
    let mut tx = state.db.begin().await?;
    // Rotated already (before, or by a request racing this one): within
    // the grace window the token works once more; otherwise it is a reuse.
    let first_use = row.rotated_at.is_none() && store::mark_rotated(&mut *tx, &row.id, now).await?;
    if !first_use {
        let rotated_at = store::token_by_hash(&mut *tx, &token_hash)
            .await?
            .and_then(|t| t.rotated_at)
            .unwrap_or(now);
        let in_grace = now < rotated_at.plus(grace);
        if !(in_grace && store::spend_rotated(&mut *tx, &row.id, now).await?) {
            drop(tx);
            return Err(reused(state, &family_id, now).await);
        }
    }
    let Some(user_id) = grant.user_id.clone() else {
        return Err(invalid());
    };
    let scopes = match form.scope.as_deref().map(ScopeSet::parse) {
        Some(asked) if !asked.is_empty() => {
            if !asked.is_subset(&grant.scopes) {
                return Err(OAuthError::InvalidScope(
                    "a refresh may only narrow the scopes granted".into(),
                ));
            }
            asked
        }
        _ => grant.scopes.clone(),
    };
    let issue = Issue {
        app,
        user_id: &user_id,
        organization_id: grant.organization_id.as_ref(),
        consent_id: grant.consent_id.as_ref(),
        family_id: &family_id,
        code_hash: row.code_hash.as_deref(),
        scopes: &scopes,
    };
    let (access, refresh) = issue_pair(state, &mut tx, &issue, now).await?;
    tx.commit().await?;
    Ok(answer(state, access, refresh, &scopes, None))
}

/// A rotated refresh token came back after its grace: the whole family
/// (every token of that sign-in) is revoked, and the request refused.
async fn reused(state: &AppsState, family_id: &TokenFamilyId, now: Timestamp) -> OAuthError {
    match store::revoke_family(state.db.pool(), family_id, now).await {
        Ok(revoked) => {
            tracing::warn!(
                revoked,
                "a rotated refresh token was reused; its family is revoked"
            );
            OAuthError::InvalidGrant(
                "the refresh token was already used; its sign-in is revoked".into(),
            )
        }
        Err(error) => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636s_example_only() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            challenge
        ));
        // `plain`: the verifier as its own challenge does not pass.
        assert!(!pkce_matches(challenge, challenge));
        // Too short, or a character outside the alphabet.
        assert!(!pkce_matches("abc", challenge));
        assert!(!pkce_matches(&format!("{verifier}!"), challenge));
    }
}
