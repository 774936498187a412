//! Access tokens: short-lived JWTs (HS256) naming the user, the active
//! organization and the session they belong to.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use landlord_core::ids::{OrganizationId, SessionId, UserId};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "landlord";

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: UserId,
    /// Active organization id.
    pub org: OrganizationId,
    /// Session (refresh-token family) id; revoking it ends the token early.
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            ttl_secs,
        }
    }

    pub fn issue(
        &self,
        user_id: &UserId,
        organization_id: &OrganizationId,
        session_id: &SessionId,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id.clone(),
            org: organization_id.clone(),
            sid: session_id.clone(),
            iat: now,
            exp: now + self.ttl_secs as i64,
            iss: ISSUER.to_string(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired token signed with our key.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_fail() {
        let keys = TokenKeys::new(&"k".repeat(32), 60);
        let token = keys
            .issue(
                &UserId::from_trusted("u1"),
                &OrganizationId::from_trusted("o1"),
                &SessionId::from_trusted("s1"),
            )
            .unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (
                claims.sub.as_str(),
                claims.org.as_str(),
                claims.sid.as_str()
            ),
            ("u1", "o1", "s1")
        );
        let other = TokenKeys::new(&"x".repeat(32), 60);
        assert!(other.verify(&token).is_none());
        assert!(keys.verify("not.a.token").is_none());
    }

    #[test]
    fn expired_tokens_fail() {
        let keys = TokenKeys::new(&"k".repeat(32), 0);
        let mut claims = AccessClaims {
            sub: UserId::from_trusted("u"),
            org: OrganizationId::from_trusted("o"),
            sid: SessionId::from_trusted("s"),
            iat: 0,
            exp: chrono::Utc::now().timestamp() - 60,
            iss: ISSUER.into(),
        };
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .unwrap();
        assert!(keys.verify(&token).is_none());
        claims.exp += 3600;
        let token = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret("k".repeat(32).as_bytes()),
        )
        .unwrap();
        assert!(keys.verify(&token).is_some());
    }
}
