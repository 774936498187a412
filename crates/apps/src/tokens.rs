//! The provider's tokens: opaque random strings with a prefix that says
//! what they are, stored only as SHA-256 hashes, and the one place that
//! decides whether a token still works ([`resolve`]) — the token endpoint,
//! introspection, userinfo and Landlord's API all ask it, so a revoked
//! consent, an uninstalled app, a suspended app or a person removed from
//! the organization stops every token at once.

use landlord_core::crypto::{random_hex, sha256_hex};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{Db, Timestamp};

use crate::ids::{AppId, ConsentId, InstallationId, TokenFamilyId, TokenId};
use crate::scopes::ScopeSet;
use crate::store::{self, AppStatus, TokenKind};

/// Prefix of an access token.
pub const ACCESS_PREFIX: &str = "lla_";
/// Prefix of a refresh token.
pub const REFRESH_PREFIX: &str = "llr_";
/// Prefix of an authorization code.
pub const CODE_PREFIX: &str = "llc_";

/// A new secret with `prefix` and 256 random bits.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", random_hex(32))
}

/// How a token (or code, or client secret) is stored and looked up.
pub fn hash(secret: &str) -> String {
    sha256_hex(secret)
}

/// Could `token` be one of ours? (Cheap: the API's authentication asks
/// before it reaches the database.)
pub fn looks_like_app_token(token: &str) -> bool {
    token.starts_with(ACCESS_PREFIX)
}

/// A token that still works, and what it may do.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token_id: TokenId,
    pub kind: TokenKind,
    pub app_id: AppId,
    /// The person who signed in (none for an installation's token).
    pub user_id: Option<UserId>,
    /// The organization the token acts in: the person's at consent, or the
    /// installing one.
    pub organization_id: Option<OrganizationId>,
    pub installation_id: Option<InstallationId>,
    pub consent_id: Option<ConsentId>,
    pub family_id: Option<TokenFamilyId>,
    pub scopes: ScopeSet,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// A refresh token already exchanged once (see the grace rule).
    pub rotated_at: Option<Timestamp>,
}

/// The token `secret` if it still works at `now`: issued here, not revoked,
/// not expired, its app not suspended, its installation not uninstalled,
/// its consent not revoked, and its person still a member of its
/// organization. Anything else is `None` — introspection's `active: false`.
pub async fn resolve(db: &Db, secret: &str, now: Timestamp) -> Result<Option<Grant>, sqlx::Error> {
    let Some(standing) = store::token_standing(db.pool(), &hash(secret)).await? else {
        return Ok(None);
    };
    let token = standing.token;
    let works = token.revoked_at.is_none()
        && token.expires_at > now
        && standing.app_status != AppStatus::Suspended
        && standing.installation_ended_at.is_none()
        && standing.consent_revoked_at.is_none();
    if !works {
        return Ok(None);
    }
    if let (Some(user), Some(organization)) = (&token.user_id, &token.organization_id) {
        if landlord_identity::store::role_in(db.pool(), user, organization)
            .await?
            .is_none()
        {
            return Ok(None);
        }
    }
    Ok(Some(Grant {
        token_id: token.id,
        kind: token.kind,
        app_id: token.app_id,
        user_id: token.user_id,
        organization_id: token.organization_id,
        installation_id: token.installation_id,
        consent_id: token.consent_id,
        family_id: token.family_id,
        scopes: ScopeSet::from_json(&token.scopes),
        issued_at: token.created_at,
        expires_at: token.expires_at,
        rotated_at: token.rotated_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_kind_and_256_bits() {
        let token = new_secret(ACCESS_PREFIX);
        assert!(looks_like_app_token(&token));
        assert_eq!(token.len(), ACCESS_PREFIX.len() + 64);
        assert_ne!(token, new_secret(ACCESS_PREFIX));
        assert!(!looks_like_app_token(&new_secret(REFRESH_PREFIX)));
        assert_eq!(hash(&token).len(), 64);
    }
}
