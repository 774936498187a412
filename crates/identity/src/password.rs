//! Passwords: the policy, and argon2id hashing with OWASP's recommended
//! parameters (19 MiB memory, 2 iterations, 1 lane). Hashing runs on the
//! blocking pool so it never stalls the request workers.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use landlord_core::ApiError;

pub const MIN_LENGTH: usize = 8;
/// Long enough for any passphrase, short enough that hashing stays cheap.
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    // 19 MiB, t=2, p=1: OWASP Password Storage Cheat Sheet, argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the policy; `field` names the field in the error.
pub fn validate(field: &str, password: &str, email: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at least {MIN_LENGTH} characters long"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_LENGTH} characters long"),
        ));
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(ApiError::invalid_field(
            field,
            "must not be the email address",
        ));
    }
    Ok(())
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks `password` against `stored`. With `None` (no such account) it
/// checks against a dummy hash, so an unknown email costs the same time as
/// a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let known = stored.is_some();
    let stored = match stored {
        Some(stored) => stored,
        None => dummy_hash().to_string(),
    };
    let matches = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(known && matches)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(b"landlord-dummy-password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_its_reason() {
        assert!(validate("password", "short", "a@b.c").is_err());
        assert!(validate("password", &"x".repeat(129), "a@b.c").is_err());
        assert!(validate("password", "Ada@Example.com", "ada@example.com").is_err());
        assert!(validate("password", "correct horse", "ada@example.com").is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify("correct horse".into(), None).await.unwrap());
    }
}
