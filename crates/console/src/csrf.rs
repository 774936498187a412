//! CSRF tokens: an HMAC of the session (signed in) or of a random cookie
//! (signed out, so sign-in and sign-up forms are covered too), in a hidden
//! field of every form and checked on every POST.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn derive_key(secret: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(b"landlord console csrf v1\0");
    hasher.update(secret.as_bytes());
    hasher.finalize().to_vec()
}

fn mac(key: &[u8], seed: &str) -> HmacSha256 {
    // HMAC accepts keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(seed.as_bytes());
    mac
}

/// The token of `seed` (`session:<family id>` or `anon:<cookie>`).
pub(crate) fn token(key: &[u8], seed: &str) -> String {
    hex::encode(mac(key, seed).finalize().into_bytes())
}

/// Whether `presented` is the token of `seed` (constant-time).
pub(crate) fn verify(key: &[u8], seed: &str, presented: &str) -> bool {
    let Ok(bytes) = hex::decode(presented.trim()) else {
        return false;
    };
    mac(key, seed).verify_slice(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_fits_its_seed_and_key_only() {
        let key = derive_key("secret");
        let token = token(&key, "session:abc");
        assert_eq!(token.len(), 64);
        assert!(verify(&key, "session:abc", &token));
        assert!(!verify(&key, "session:abd", &token));
        assert!(!verify(&derive_key("other"), "session:abc", &token));
        assert!(!verify(&key, "session:abc", ""));
        assert!(!verify(&key, "session:abc", "not hex"));
        assert!(!verify(&key, "session:abc", &token[..62]));
    }
}
