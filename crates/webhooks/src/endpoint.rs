//! An endpoint's rules, pure: its secret, its event-type filter, the
//! limits of its fields.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use landlord_core::ids::WebhookEndpointId;
use landlord_core::sealed::PayloadCipher;
use landlord_events::payloads::WEBHOOK_TEST;
use landlord_events::EventType;
use rand::RngCore;

/// Random bytes in a new secret (Standard Webhooks: 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// How long the previous secret stays valid after a rotation.
pub const ROTATION_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;

/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// Most endpoints one organization may have.
pub const MAX_ENDPOINTS: i64 = 20;

/// A new signing secret: `whsec_` + base64 of [`SECRET_BYTES`] random
/// bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// What a sealed secret is bound to: its endpoint, so a sealed value
/// copied to another row does not open.
fn context(id: &WebhookEndpointId) -> Vec<u8> {
    format!("webhook_endpoint:{id}").into_bytes()
}

/// Seals `secret` for storage in the endpoint's row.
pub fn seal(
    cipher: &PayloadCipher,
    id: &WebhookEndpointId,
    secret: &str,
) -> anyhow::Result<String> {
    Ok(cipher.seal(secret.as_bytes(), &context(id))?)
}

/// Opens a secret sealed by [`seal`].
pub fn open(
    cipher: &PayloadCipher,
    id: &WebhookEndpointId,
    sealed: &str,
) -> anyhow::Result<String> {
    let bytes = cipher.open(sealed, &context(id))?;
    Ok(String::from_utf8(bytes)?)
}

/// The event types an endpoint receives: all when the list is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter(pub Vec<EventType>);

impl EventFilter {
    /// Whether an event of `event_type` goes to the endpoint. Test
    /// messages go only where they are sent, never through the filter.
    pub fn accepts(&self, event_type: EventType) -> bool {
        event_type != WEBHOOK_TEST && (self.0.is_empty() || self.0.contains(&event_type))
    }

    /// As stored: a JSON array of names.
    pub fn encode(&self) -> String {
        serde_json::to_string(&self.0.iter().map(|t| t.as_str()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into())
    }

    /// From storage; names no longer in the catalog are dropped.
    pub fn decode(stored: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
        Self(names.iter().filter_map(|n| EventType::parse(n)).collect())
    }

    /// From a request's names: each must be in the catalog (and not the
    /// test type); duplicates collapse. `Err` names the first bad one.
    pub fn parse(names: &[String]) -> Result<Self, String> {
        let mut types = Vec::new();
        for name in names {
            match EventType::parse(name).filter(|t| *t != WEBHOOK_TEST) {
                None => return Err(name.clone()),
                Some(t) if !types.contains(&t) => types.push(t),
                Some(_) => {}
            }
        }
        Ok(Self(types))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use landlord_events::payloads::{INVOICE_PAID, MEMBER_ADDED};

    #[test]
    fn secrets_are_whsec_and_sign() {
        let secret = new_secret();
        let key = landlord_core::webhook_signature::decode_secret(&secret).unwrap();
        assert_eq!(key.len(), SECRET_BYTES);
        assert_ne!(secret, new_secret());
        assert!(landlord_core::webhook_signature::sign(&secret, "msg", 1, b"{}").is_some());
    }

    #[test]
    fn sealed_secrets_open_only_for_their_endpoint() {
        let cipher = PayloadCipher::new("a test key of enough length for sealing");
        let id = WebhookEndpointId::generate();
        let sealed = seal(&cipher, &id, "whsec_abc").unwrap();
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(open(&cipher, &id, &sealed).unwrap(), "whsec_abc");
        assert!(open(&cipher, &WebhookEndpointId::generate(), &sealed).is_err());
    }

    #[test]
    fn filters_accept_their_types_and_never_tests() {
        let all = EventFilter::default();
        assert!(all.accepts(INVOICE_PAID));
        assert!(!all.accepts(WEBHOOK_TEST));
        let some = EventFilter::parse(&["invoice.paid".into(), "invoice.paid".into()]).unwrap();
        assert_eq!(some.0, [INVOICE_PAID]);
        assert!(!some.accepts(MEMBER_ADDED));
        assert_eq!(EventFilter::decode(&some.encode()), some);
        assert_eq!(
            EventFilter::parse(&["nope".into()]),
            Err("nope".to_string())
        );
        assert!(EventFilter::parse(&["webhook.test".into()]).is_err());
    }
}
