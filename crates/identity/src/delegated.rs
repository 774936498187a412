//! Delegated tokens: access tokens that a module issues to software acting
//! for an organization (the Apps module's `lla_…` tokens of an installed
//! app), which a few of Landlord's routes accept within their scopes.
//!
//! Identity cannot depend on the module that issues them, so the module
//! hands in a [`DelegatedTokens`] resolver, set once at start-up by the
//! binary ([`IdentityState::set_delegated_tokens`]). Without one (the
//! module off), such tokens are just invalid bearer tokens.
//!
//! A route opts in with [`PersonOrApp<P, S>`]: a signed-in person holding
//! permission `P` (exactly as [`Authorized<P>`] checks it), or a delegated
//! token carrying scope `S`. Every other route refuses a delegated token
//! with 403 ([`CurrentUser`]'s extractor asks [`IdentityState::is_delegated`]).

use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::ApiError;

use crate::auth::{bearer_token, CurrentUser};
use crate::permissions::{Authorized, RequiredPermission};
use crate::IdentityState;

/// What a delegated token that still works may do.
#[derive(Debug, Clone)]
pub struct DelegatedGrant {
    /// The organization it acts for.
    pub organization_id: OrganizationId,
    /// The issuing module's id of the software (an app's id).
    pub client_id: String,
    /// The issuing module's id of the grant (an installation's id).
    pub grant_id: Option<String>,
    /// The person it acts as, if any (none for an installation's token).
    pub user_id: Option<UserId>,
    /// Scope names, as granted.
    pub scopes: Vec<String>,
}

impl DelegatedGrant {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The module that issues delegated tokens: recognizes them and says
/// whether one still works (and what it may do).
#[async_trait::async_trait]
pub trait DelegatedTokens: Send + Sync + 'static {
    /// Whether `token` is one of the module's (cheap: its prefix).
    fn recognizes(&self, token: &str) -> bool;

    /// The token's grant when it still works; `None` when it is unknown,
    /// revoked or expired, or what it was issued for has ended.
    async fn resolve(&self, token: &str) -> Result<Option<DelegatedGrant>, ApiError>;
}

/// Where the resolver is kept (in [`crate::IdentityInner`]).
pub type DelegatedSlot = OnceLock<Arc<dyn DelegatedTokens>>;

impl IdentityState {
    /// Installs the resolver of delegated tokens (once, at start-up; a
    /// second call is ignored).
    pub fn set_delegated_tokens(&self, resolver: Arc<dyn DelegatedTokens>) {
        let _ = self.delegated.set(resolver);
    }

    /// Whether `token` is a delegated token (and not a person's).
    pub fn is_delegated(&self, token: &str) -> bool {
        self.delegated.get().is_some_and(|d| d.recognizes(token))
    }
}

/// A scope as a type, so a handler can declare it in its signature.
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: &'static str;
}

/// The scopes Landlord's own routes accept delegated tokens with.
pub mod scope {
    macro_rules! scopes {
        ($($marker:ident = $name:literal;)*) => {
            $(
                #[doc = concat!("The scope `", $name, "`.")]
                #[derive(Debug)]
                pub struct $marker;
                impl super::RequiredScope for $marker {
                    const SCOPE: &'static str = $name;
                }
            )*
            /// Every scope above (the issuing module checks it knows each).
            pub const ALL: &[&str] = &[$($name),*];
        };
    }
    scopes! {
        OrganizationsRead = "organizations:read";
        MembersRead = "members:read";
        UsageRead = "usage:read";
        EventsRead = "events:read";
    }
}

/// A delegated request that was let in: put in the request's extensions
/// by whoever meters such requests (before the handler), filled by
/// [`PersonOrApp`] when it admits a delegated token, read after the answer.
#[derive(Debug, Clone, Default)]
pub struct DelegatedUse(pub Arc<OnceLock<DelegatedGrant>>);

/// Who acts on a route that accepts delegated tokens.
#[derive(Debug, Clone)]
pub enum Acting {
    Person(CurrentUser),
    App(DelegatedGrant),
}

/// A signed-in person holding permission `P` in their active organization,
/// or a delegated token carrying scope `S`: either way, an organization.
/// A delegated token that no longer works: 401; one without `S`: 403
/// naming it.
#[derive(Debug, Clone)]
pub struct PersonOrApp<P, S> {
    pub organization_id: OrganizationId,
    pub acting: Acting,
    _needs: PhantomData<(P, S)>,
}

impl<P, S> PersonOrApp<P, S> {
    /// The person, when a person acts.
    pub fn person(&self) -> Option<&CurrentUser> {
        match &self.acting {
            Acting::Person(user) => Some(user),
            Acting::App(_) => None,
        }
    }
}

impl<St, P, S> FromRequestParts<St> for PersonOrApp<P, S>
where
    St: Send + Sync,
    IdentityState: FromRef<St>,
    P: RequiredPermission,
    S: RequiredScope,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let identity = IdentityState::from_ref(state);
        let delegated = bearer_token(parts).and_then(|token| {
            identity
                .delegated
                .get()
                .filter(|d| d.recognizes(token))
                .map(|d| (d.clone(), token.to_owned()))
        });
        let Some((resolver, token)) = delegated else {
            // A person: exactly what `Authorized<P>` checks.
            let user = Authorized::<P>::from_request_parts(parts, state).await?;
            return Ok(Self {
                organization_id: user.organization_id.clone(),
                acting: Acting::Person(user.user),
                _needs: PhantomData,
            });
        };
        let grant = resolver.resolve(&token).await?.ok_or_else(|| {
            ApiError::Unauthorized(
                "the app token is invalid, expired or revoked (or its app was uninstalled)".into(),
            )
        })?;
        if !grant.has_scope(S::SCOPE) {
            return Err(ApiError::Forbidden(format!(
                "missing scope {}: the app token was not granted it",
                S::SCOPE
            )));
        }
        if let Some(used) = parts.extensions.get::<DelegatedUse>() {
            let _ = used.0.set(grant.clone());
        }
        Ok(Self {
            organization_id: grant.organization_id.clone(),
            acting: Acting::App(grant),
            _needs: PhantomData,
        })
    }
}
