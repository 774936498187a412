//! Small cryptographic helpers shared by features: random secrets shown
//! once, and the hashes that are stored in their place.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the operating system's CSPRNG, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// SHA-256 of `secret`, hex-encoded. Tokens and API keys carry 256 bits of
/// randomness, so a fast hash is enough to store them (unlike passwords).
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// SHA-256 of `secret`, hex-encoded on the stack: for lookups on the hot
/// path (an API key's cache), which need the text but not an owned one.
pub fn sha256_hex_inline(secret: &str) -> Sha256Hex {
    let mut hex = [0u8; 64];
    // 32 bytes always encode into 64 characters.
    let _ = hex::encode_to_slice(Sha256::digest(secret.as_bytes()), &mut hex);
    Sha256Hex(hex)
}

/// A SHA-256 as 64 lowercase hexadecimal characters.
#[derive(Clone, Copy)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    pub fn as_str(&self) -> &str {
        // Hexadecimal digits are ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Compares two byte strings in time independent of where they differ
/// (`subtle`'s comparison, which the optimizer cannot shortcut; only the
/// lengths, which are public here — signatures and tokens of a known
/// size — may end it early).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inline_hash_is_the_same_text_as_the_owned_one() {
        let key = "sk_live_0123456789abcdef";
        assert_eq!(sha256_hex_inline(key).as_str(), sha256_hex(key));
        assert_eq!(sha256_hex_inline("").as_str().len(), 64);
    }

    #[test]
    fn random_values_differ_and_have_the_asked_length() {
        let a = random_hex(32);
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_hex(32));
    }

    #[test]
    fn hashes_are_stable_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
