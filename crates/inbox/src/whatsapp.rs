//! The WhatsApp Business Cloud API's shapes, as Meta documents them: the
//! webhook notifications it POSTs (incoming messages, message statuses),
//! their `X-Hub-Signature-256`, and the send-message call.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Whether `header` (`sha256=` + hex) is the HMAC-SHA256 of `body` with
/// `app_secret`, compared in constant time.
pub fn signature_matches(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A webhook notification: `{"object": "whatsapp_business_account",
/// "entry": [{"id", "changes": [{"field": "messages", "value": …}]}]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    pub id: String,
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    pub field: String,
    pub value: ChangeValue,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChangeValue {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<ContactProfile>,
    #[serde(default)]
    pub messages: Vec<IncomingMessage>,
    #[serde(default)]
    pub statuses: Vec<StatusUpdate>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    pub phone_number_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactProfile {
    pub wa_id: String,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

/// An incoming message (`value.messages[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct IncomingMessage {
    pub from: String,
    pub id: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    /// The media object of `image`, `audio`, `video`, `document`,
    /// `sticker` messages (its id and MIME type), kept as a reference.
    #[serde(default)]
    pub image: Option<serde_json::Value>,
    #[serde(default)]
    pub audio: Option<serde_json::Value>,
    #[serde(default)]
    pub video: Option<serde_json::Value>,
    #[serde(default)]
    pub document: Option<serde_json::Value>,
    #[serde(default)]
    pub sticker: Option<serde_json::Value>,
}

impl IncomingMessage {
    /// The media reference of a media message.
    pub fn media(&self) -> Option<serde_json::Value> {
        [
            &self.image,
            &self.audio,
            &self.video,
            &self.document,
            &self.sticker,
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|m| serde_json::json!({ "type": self.kind, "media": m }))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Text {
    pub body: String,
}

/// A status callback (`value.statuses[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct StatusUpdate {
    /// The `wamid.` of our outgoing message.
    pub id: String,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub recipient_id: String,
    #[serde(default)]
    pub errors: Vec<StatusError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// The answer of `POST /{phone-number-id}/messages`.
#[derive(Debug, Clone, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub messages: Vec<SentId>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SentId {
    pub id: String,
}

/// A template to send: its name, language and body parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TemplateMessage {
    /// The approved template's name.
    #[schema(example = "order_update")]
    pub name: String,
    /// Its language code.
    #[schema(example = "en_US")]
    pub language: String,
    /// The body's `{{1}}`, `{{2}}`… in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// The body of the send-message call for a text.
pub fn text_request(to: &str, body: &str) -> serde_json::Value {
    serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "preview_url": false, "body": body },
    })
}

/// The body of the send-message call for a template.
pub fn template_request(to: &str, template: &TemplateMessage) -> serde_json::Value {
    let parameters: Vec<serde_json::Value> = template
        .parameters
        .iter()
        .map(|p| serde_json::json!({ "type": "text", "text": p }))
        .collect();
    let mut components = Vec::new();
    if !parameters.is_empty() {
        components.push(serde_json::json!({ "type": "body", "parameters": parameters }));
    }
    serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": template.name,
            "language": { "code": template.language },
            "components": components,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let header = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_matches("app-secret", body, &header));
        assert!(!signature_matches("other", body, &header));
        assert!(!signature_matches("app-secret", b"{}", &header));
        assert!(!signature_matches("app-secret", body, "sha1=00"));
        assert!(!signature_matches("app-secret", body, "sha256=zz"));
    }

    #[test]
    fn notifications_parse_messages_and_statuses() {
        let payload = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PN1"},
                "contacts": [{"profile": {"name": "Ada"}, "wa_id": "447700900123"}],
                "messages": [{"from": "447700900123", "id": "wamid.A", "timestamp": "1733000000",
                              "type": "text", "text": {"body": "hello"}}],
                "statuses": [{"id": "wamid.B", "status": "read", "timestamp": "1733000001",
                              "recipient_id": "447700900123"}]
            }}]}]
        });
        let n: Notification = serde_json::from_value(payload).unwrap();
        let value = &n.entry[0].changes[0].value;
        assert_eq!(value.metadata.as_ref().unwrap().phone_number_id, "PN1");
        assert_eq!(value.messages[0].text.as_ref().unwrap().body, "hello");
        assert_eq!(value.statuses[0].status, "read");
    }

    #[test]
    fn template_requests_carry_their_parameters() {
        let request = template_request(
            "447700900123",
            &TemplateMessage {
                name: "order_update".into(),
                language: "en_US".into(),
                parameters: vec!["42".into()],
            },
        );
        assert_eq!(request["template"]["language"]["code"], "en_US");
        assert_eq!(
            request["template"]["components"][0]["parameters"][0]["text"],
            "42"
        );
        assert_eq!(text_request("1", "hi")["text"]["body"], "hi");
    }
}

/// The answer of `GET /{phone-number-id}`: the number as Meta shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct PhoneNumber {
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
}

/// Meta's error answer: `{"error": {"message", "type", "code",
/// "error_data": {"details"}, …}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphErrorAnswer {
    pub error: GraphError,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_data: Option<GraphErrorData>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GraphErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

impl GraphError {
    /// Meta's own words for a person: the particulars when given, else the
    /// message, shortened.
    pub fn words(&self) -> String {
        let text = self
            .error_data
            .as_ref()
            .and_then(|data| data.details.clone())
            .filter(|details| !details.trim().is_empty())
            .unwrap_or_else(|| self.message.clone());
        let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        text.trim().to_string()
    }
}
