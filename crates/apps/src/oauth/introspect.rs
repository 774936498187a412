//! What a client learns about, or does to, a token it holds: revocation
//! (RFC 7009), introspection (RFC 7662) and the person's claims at
//! userinfo (OpenID Connect Core §5.3). Whether a token works is
//! [`tokens::resolve`]'s answer, nowhere else's.

use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::ids::{AppId, InstallationId};
use crate::oauth::{token::person_claims, OAuthError};
use crate::store::{self, AppRow, TokenKind};
use crate::{tokens, AppsState};

/// `POST /oauth/revoke`'s and `POST /oauth/introspect`'s form.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct TokenForm {
    /// The access or refresh token.
    #[schema(max_length = 200)]
    pub token: Option<String>,
    /// `access_token` or `refresh_token`: a hint only; a wrong one still
    /// finds the token.
    #[schema(max_length = 50)]
    pub token_type_hint: Option<String>,
    /// `client_secret_post` and public clients (`none`).
    #[schema(max_length = 200)]
    pub client_id: Option<String>,
    /// `client_secret_post`.
    #[schema(max_length = 200)]
    pub client_secret: Option<String>,
}

impl TokenForm {
    fn token(&self) -> Result<&str, OAuthError> {
        self.token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))
    }
}

/// Revokes `token` if `app` holds it: a refresh token with every token of
/// its sign-in (its family), an access token alone. Unknown, revoked
/// already or another client's: nothing happens, and the answer is the
/// same (RFC 7009 §2.2).
pub async fn revoke(state: &AppsState, app: &AppRow, form: &TokenForm) -> Result<(), OAuthError> {
    let token = form.token()?;
    let now = Timestamp::now();
    let Some(row) = store::token_by_hash(state.db.pool(), &tokens::hash(token)).await? else {
        return Ok(());
    };
    if row.app_id != app.id {
        return Ok(());
    }
    match (row.kind, &row.family_id) {
        (TokenKind::Refresh, Some(family)) => {
            store::revoke_family(state.db.pool(), family, now).await?;
        }
        _ => {
            store::revoke_token(state.db.pool(), &row.id, now).await?;
        }
    }
    Ok(())
}

/// Introspection's answer (RFC 7662 §2.2). Inactive: `{"active": false}`
/// and nothing else.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// The scopes granted, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub client_id: Option<AppId>,
    /// The person (absent for an installation's token).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sub: Option<UserId>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `Bearer` (an access token) or `refresh_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The organization the token acts in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub organization_id: Option<OrganizationId>,
    /// The installation (a client-credentials token).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub installation_id: Option<InstallationId>,
}

/// What `app` may learn of `token`: active only when it still works and
/// was issued to `app`.
pub async fn introspect(
    state: &AppsState,
    app: &AppRow,
    form: &TokenForm,
) -> Result<Introspection, OAuthError> {
    let token = form.token()?;
    let grant = tokens::resolve(&state.db, token, Timestamp::now()).await?;
    let Some(grant) = grant.filter(|g| g.app_id == app.id) else {
        return Ok(Introspection::default());
    };
    Ok(Introspection {
        active: true,
        scope: Some(grant.scopes.to_oauth()),
        client_id: Some(grant.app_id),
        sub: grant.user_id,
        exp: Some(grant.expires_at.millis() / 1000),
        iat: Some(grant.issued_at.millis() / 1000),
        token_type: Some(
            match grant.kind {
                TokenKind::Access => "Bearer",
                TokenKind::Refresh => "refresh_token",
            }
            .into(),
        ),
        organization_id: grant.organization_id,
        installation_id: grant.installation_id,
    })
}

/// Userinfo's answer: `sub`, and `name`, `email`, `email_verified` as the
/// token's scopes allow.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserInfo {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The claims about the person an access token with `openid` signed in.
pub async fn userinfo(state: &AppsState, bearer: Option<&str>) -> Result<UserInfo, OAuthError> {
    let invalid = || OAuthError::InvalidToken("the access token is missing or not valid".into());
    let token = bearer.ok_or_else(invalid)?;
    let grant = tokens::resolve(&state.db, token, Timestamp::now())
        .await?
        .filter(|g| g.kind == TokenKind::Access)
        .ok_or_else(invalid)?;
    let Some(user_id) = grant.user_id.clone() else {
        return Err(OAuthError::InsufficientScope(
            "an installation's token signs no one in".into(),
        ));
    };
    if !grant.scopes.contains("openid") {
        return Err(OAuthError::InsufficientScope(
            "userinfo needs the openid scope".into(),
        ));
    }
    let claims: Map<String, Value> = person_claims(state, &user_id, &grant.scopes)
        .await?
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    Ok(UserInfo {
        sub: user_id.to_string(),
        name: claims
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        email: claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned),
        email_verified: claims.get("email_verified").and_then(Value::as_bool),
    })
}
