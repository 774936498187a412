//! Apps' access tokens on Landlord's own API: the resolver the binary
//! hands to identity at start-up ([`AppTokens`], see
//! `landlord_identity::delegated`), and the metering of the requests they
//! make ([`meter`]).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use landlord_core::ids::ApiKeyId;
use landlord_core::{ApiError, Db, Timestamp};
use landlord_identity::delegated::{DelegatedGrant, DelegatedTokens, DelegatedUse};
use landlord_metering::{UsageRecord, UsageRecorder};

use crate::store::TokenKind;
use crate::tokens;

/// The key id usage rows carry for requests made without an API key (the
/// keys feature's `NO_KEY`): no key has it, so key lists never show it,
/// while quotas, the dashboard and invoices count the requests.
pub const NO_KEY: &str = "00000000-0000-0000-0000-000000000000";

/// Resolves `lla_…` tokens for identity: [`tokens::resolve`] decides.
pub struct AppTokens {
    pub db: Db,
}

#[async_trait::async_trait]
impl DelegatedTokens for AppTokens {
    fn recognizes(&self, token: &str) -> bool {
        tokens::looks_like_app_token(token)
    }

    async fn resolve(&self, token: &str) -> Result<Option<DelegatedGrant>, ApiError> {
        let Some(grant) = tokens::resolve(&self.db, token, Timestamp::now()).await? else {
            return Ok(None);
        };
        // An access token that acts in an organization (a refresh token
        // is never a bearer token).
        let (TokenKind::Access, Some(organization_id)) = (grant.kind, grant.organization_id) else {
            return Ok(None);
        };
        Ok(Some(DelegatedGrant {
            organization_id,
            client_id: grant.app_id.into_string(),
            grant_id: grant.installation_id.map(|i| i.into_string()),
            user_id: grant.user_id,
            scopes: grant.scopes.names(),
        }))
    }
}

/// Whether `request` is sent with what looks like an app's token: the
/// requests [`meter`] is for (`OnlyWhenLayer`).
pub fn carries_app_token(request: &Request) -> bool {
    request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && tokens::looks_like_app_token(token.trim())
        })
}

/// Middleware over the API: a request with an app's token that a route
/// let in (within its scope) is recorded for metering under the token's
/// organization, like an API-key request. Refused ones are not metered.
pub async fn meter(
    State(usage): State<UsageRecorder>,
    mut request: Request,
    next: Next,
) -> Response {
    if !carries_app_token(&request) {
        return next.run(request).await;
    }
    let used = DelegatedUse::default();
    request.extensions_mut().insert(used.clone());
    let endpoint = match request.extensions().get::<MatchedPath>() {
        Some(template) => usage.endpoint(template.as_str()),
        None => std::sync::Arc::from(request.uri().path()),
    };
    let method = landlord_metering::method_name(request.method());
    let response = next.run(request).await;
    if let Some(grant) = used.0.get() {
        usage
            .record(UsageRecord {
                caller: landlord_metering::UsageCaller::new(
                    grant.organization_id.clone(),
                    ApiKeyId::from_trusted(NO_KEY),
                ),
                endpoint,
                method,
                status: response.status().as_u16(),
                at: Timestamp::now(),
                app_id: None,
            })
            .await;
    }
    response
}

#[cfg(test)]
mod tests {
    use landlord_identity::delegated::scope;

    use crate::scopes::{grantable, Grantor};

    /// Every scope Landlord's routes accept app tokens with is one an
    /// organization can grant an app.
    #[test]
    fn the_routes_scopes_are_in_the_catalog() {
        for name in scope::ALL {
            assert!(grantable(name, Grantor::Organization), "{name}");
        }
        assert_eq!(scope::ALL.len(), 4);
    }
}
