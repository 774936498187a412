//! Webhook signatures, checked on the raw body before anything else.

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

/// Stripe's tolerance for the signed timestamp.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

impl SignatureError {
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::Missing => "the signature header is missing",
            SignatureError::Malformed => "the signature header is malformed",
            SignatureError::Stale => "the signature's timestamp is outside the 5-minute tolerance",
            SignatureError::Mismatch => "the signature does not match the body",
        }
    }
}

fn hmac_sha256_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Stripe: `Stripe-Signature: t=…,v1=…[,v1=…]`; HMAC-SHA256 of
/// `"{t}.{body}"`. Any `v1` may match (several after a secret roll); other
/// schemes (`v0`) are ignored. Compared in constant time.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_string()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - timestamp).abs() > STRIPE_TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = hmac_sha256_hex(secret.as_bytes(), &signed);
    let matched = signatures.iter().fold(false, |any, s| {
        any | landlord_core::crypto::constant_time_eq(s.as_bytes(), expected.as_bytes())
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Paystack: `x-paystack-signature` = hex HMAC-SHA512 of the body with the
/// secret key.
pub fn verify_paystack(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if landlord_core::crypto::constant_time_eq(
        header.to_ascii_lowercase().as_bytes(),
        expected.as_bytes(),
    ) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Signs like Stripe (for tests and tools).
pub fn sign_stripe(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "t={timestamp},v1={}",
        hmac_sha256_hex(secret.as_bytes(), &signed)
    )
}

/// Signs like Paystack (for tests and tools).
pub fn sign_paystack(body: &[u8], secret: &str) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign_stripe(body, "whsec_x", 1_000);
        assert_eq!(verify_stripe(Some(&header), body, "whsec_x", 1_100), Ok(()));
        assert_eq!(
            verify_stripe(Some(&header), body, "whsec_y", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(Some(&header), b"{}", "whsec_x", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(Some(&header), body, "whsec_x", 1_000 + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(None, body, "whsec_x", 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_stripe(Some("v1=abc"), body, "whsec_x", 1_000),
            Err(SignatureError::Malformed)
        );
        // Several v1 after a secret roll: any may match; v0 is ignored.
        let rolled = format!(
            "t=1000,v0=zz,v1=deadbeef,{}",
            header.split(',').nth(1).unwrap()
        );
        assert_eq!(verify_stripe(Some(&rolled), body, "whsec_x", 1_000), Ok(()));
    }

    #[test]
    fn paystack_signatures() {
        let body = br#"{"event":"charge.success"}"#;
        let signature = sign_paystack(body, "sk_test_x");
        assert_eq!(signature.len(), 128);
        assert_eq!(verify_paystack(Some(&signature), body, "sk_test_x"), Ok(()));
        assert_eq!(
            verify_paystack(Some(&signature), body, "sk_test_y"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_paystack(None, body, "sk_test_x"),
            Err(SignatureError::Missing)
        );
    }
}
