//! Authentication of people: `Authorization: Bearer <access token>`.
//!
//! The extractor checks the JWT, then that its session has not been revoked
//! and that the user is still a member of the organization it names, so
//! logout, session revocation and removal from a team take effect at once.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use landlord_core::ids::{OrganizationId, SessionId, UserId};
use landlord_core::ApiError;

use crate::model::Role;
use crate::{store, IdentityState};

/// The signed-in user, the active organization and their role in it.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub role: Role,
    /// The session (refresh-token family) of the access token.
    pub session_id: SessionId,
}

impl landlord_audit::Actor for CurrentUser {
    fn organization_id(&self) -> &OrganizationId {
        &self.organization_id
    }
    fn user_id(&self) -> &UserId {
        &self.user_id
    }
}

/// The bearer token of a request, if any.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    IdentityState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = IdentityState::from_ref(state);
        let Some(token) = bearer_token(parts) else {
            return Err(ApiError::Unauthorized(
                "missing access token: send Authorization: Bearer <access token>".into(),
            ));
        };
        // A module's delegated token (an installed app's) is accepted only
        // by the routes that say so (`delegated::PersonOrApp`).
        if state.is_delegated(token) {
            return Err(ApiError::Forbidden(
                "this route does not accept app tokens".into(),
            ));
        }
        if token.starts_with("sk_") {
            return Err(ApiError::Unauthorized(
                "this route needs a person's access token, not an API key".into(),
            ));
        }
        let claims = state.tokens.verify(token).ok_or_else(|| {
            ApiError::Unauthorized("the access token is invalid or has expired".into())
        })?;
        if !store::family_active(state.db.pool(), &claims.sid).await? {
            return Err(ApiError::Unauthorized(
                "the session has been revoked".into(),
            ));
        }
        let role = store::role_in(state.db.pool(), &claims.sub, &claims.org)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("you are no longer a member of this organization".into())
            })?;
        // The request's span (its log lines, its exported trace) names
        // the organization acted on.
        tracing::Span::current().record("organization_id", claims.org.as_str());
        Ok(CurrentUser {
            user_id: claims.sub,
            organization_id: claims.org,
            role,
            session_id: claims.sid,
        })
    }
}

/// `Option<CurrentUser>`: `None` without an `Authorization` header; a bad
/// token is still refused.
impl<S> OptionalFromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    IdentityState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.get(header::AUTHORIZATION).is_none() {
            return Ok(None);
        }
        <CurrentUser as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}
