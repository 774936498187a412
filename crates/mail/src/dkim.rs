//! DKIM signing of outgoing mail (RFC 6376, `rsa-sha256`).
//!
//! The key comes from `dkim_private_key`: an RSA private key in PEM
//! (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`), or the
//! path of a file holding one. The public half is what the domain
//! publishes in DNS: [`Dkim::dns_record`].

use base64::Engine;
use landlord_core::config::Config;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::Message;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::RsaPrivateKey;

use crate::MailError;

/// Headers covered by the signature (those a receiver shows or threads on).
const SIGNED_HEADERS: &[&str] = &["From", "To", "Subject", "Date"];

/// A signing key with its selector and domain.
pub struct Dkim {
    config: DkimConfig,
    selector: String,
    domain: String,
    /// The public key, DER (SubjectPublicKeyInfo), base64: the `p=` tag.
    public_key: String,
}

impl std::fmt::Debug for Dkim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkim")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Dkim {
    /// The signer the settings describe; `None` when DKIM is not set up.
    pub fn from_config(config: &Config) -> Result<Option<Self>, MailError> {
        let (Some(selector), Some(domain), Some(key)) = (
            config.dkim_selector.as_deref(),
            config.dkim_domain.as_deref(),
            config.dkim_private_key.as_ref(),
        ) else {
            return Ok(None);
        };
        let key = key.expose_str().trim();
        let pem = if key.starts_with("-----BEGIN") {
            key.to_string()
        } else {
            std::fs::read_to_string(key).map_err(|e| {
                MailError::Settings(format!("dkim_private_key: cannot read the file {key}: {e}"))
            })?
        };
        Self::new(selector, domain, &pem).map(Some)
    }

    /// A signer from an RSA private key in PEM.
    pub fn new(selector: &str, domain: &str, pem: &str) -> Result<Self, MailError> {
        let invalid = |what: String| MailError::Settings(format!("dkim_private_key: {what}"));
        let pem = pem.trim();
        let private = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|e| invalid(format!("not an RSA private key in PEM ({e})")))?;
        let public = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| invalid(e.to_string()))?;
        let pkcs1 = private
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| invalid(e.to_string()))?;
        let signing = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
            .map_err(|e| invalid(e.to_string()))?;
        let headers = SIGNED_HEADERS
            .iter()
            .map(|name| HeaderName::new_from_ascii_str(name))
            .collect();
        let config = DkimConfig::new(
            selector.to_string(),
            domain.to_string(),
            signing,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(Self {
            config,
            selector: selector.to_string(),
            domain: domain.to_string(),
            public_key: base64::engine::general_purpose::STANDARD.encode(public.as_bytes()),
        })
    }

    /// Adds the `DKIM-Signature` header to `message`.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }

    /// The DNS name of the record: `{selector}._domainkey.{domain}`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at [`Self::dns_name`].
    pub fn dns_record(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", self.public_key)
    }
}
