//! Sealing secrets kept at rest (the one-time tokens inside queued mail):
//! XChaCha20-Poly1305, an AEAD from the RustCrypto project, with a random
//! 192-bit nonce per message — random nonces of that size never repeat in
//! practice, so no counter has to be kept or shared between instances.
//!
//! The key is SHA-256 of `payload_encryption_key` (configured, or
//! generated once into the data directory like the token signing key).
//! Every instance that works the same job queue must use the same key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Marks the format, so another can follow.
const VERSION: &str = "v1:";
const NONCE_LEN: usize = 24;

/// Seals and opens values with the payload key.
#[derive(Clone)]
pub struct PayloadCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for PayloadCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadCipher([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    /// Wrong key (another `payload_encryption_key`) or altered data.
    #[error("sealed value cannot be opened: wrong payload_encryption_key or altered data")]
    Open,
    #[error("cannot seal the value")]
    Seal,
}

impl PayloadCipher {
    /// A cipher whose key is derived from `secret` (any length; use 32
    /// random bytes or more).
    pub fn new(secret: &str) -> Self {
        let key = Sha256::digest(secret.as_bytes());
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// Seals `plaintext`, bound to `context` (which must be given again to
    /// open it), as `v1:` + hex(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = String::with_capacity(VERSION.len() + 2 * (NONCE_LEN + sealed.len()));
        out.push_str(VERSION);
        out.push_str(&hex::encode(nonce));
        out.push_str(&hex::encode(sealed));
        Ok(out)
    }

    /// Opens what [`PayloadCipher::seal`] sealed with the same `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix(VERSION).ok_or(SealError::Malformed)?;
        let bytes = hex::decode(body).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_and_context_only() {
        let cipher = PayloadCipher::new(&"k".repeat(64));
        let sealed = cipher.seal(b"token=abc123", b"mail").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("abc123"));
        assert_eq!(cipher.open(&sealed, b"mail").unwrap(), b"token=abc123");
        // A fresh nonce each time.
        assert_ne!(sealed, cipher.seal(b"token=abc123", b"mail").unwrap());
        assert!(matches!(
            cipher.open(&sealed, b"other"),
            Err(SealError::Open)
        ));
        let other = PayloadCipher::new(&"x".repeat(64));
        assert!(matches!(other.open(&sealed, b"mail"), Err(SealError::Open)));
        assert!(matches!(
            cipher.open("v1:zz", b"mail"),
            Err(SealError::Malformed)
        ));
        assert_eq!(format!("{cipher:?}"), "PayloadCipher([redacted])");
    }
}
