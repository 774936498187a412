//! Twilio's Messages API, as documented: `POST
//! {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded
//! `To`, `From` or `MessagingServiceSid`, `Body` and `StatusCallback`, HTTP
//! Basic authentication with the Account SID and the Auth Token; the
//! answer is the Message resource (`sid`, `status`, `error_code`,
//! `error_message`), an error is `{code, message, more_info, status}`.
//!
//! Its status callbacks are form-encoded POSTs signed in
//! `X-Twilio-Signature`: the base64 HMAC-SHA1, keyed with the Auth Token,
//! of the full URL Twilio requested followed by every POST parameter
//! sorted by name, each name then its value.

use landlord_core::telemetry::SendTraced;
use std::time::Duration;

use crate::sms_config::{TwilioSender, TwilioSettings};
use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use crate::sms::{OutgoingSms, SmsError, SmsOutcome, SmsProvider};
use crate::store::MessageStatus;

/// The path of the status callbacks under `public_url`.
pub const CALLBACK_PATH: &str = "/api/v1/webhooks/twilio";

/// How long one call to Twilio may take. A delivery's claim on its message
/// outlasts it comfortably (see `delivery::CLAIM`).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Sends SMS through Twilio.
pub struct TwilioProvider {
    http: reqwest::Client,
    settings: TwilioSettings,
    /// `public_url` without a trailing slash: status callbacks come to
    /// `{public_url}/api/v1/webhooks/twilio?message_id=…`.
    public_url: String,
}

impl TwilioProvider {
    pub fn new(settings: TwilioSettings, public_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Landlord/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Twilio's HTTP client")?;
        Ok(Self {
            http,
            settings,
            public_url: public_url.trim_end_matches('/').to_string(),
        })
    }

    /// The `StatusCallback` of a message: it carries our id, so a callback
    /// that comes before the hand-over is recorded still finds it.
    pub fn status_callback(&self, message_id: &str) -> String {
        format!("{}{CALLBACK_PATH}?message_id={message_id}", self.public_url)
    }
}

/// The Message resource, as much of it as matters here.
#[derive(Debug, Deserialize)]
struct MessageResource {
    sid: String,
    status: String,
    error_code: Option<serde_json::Value>,
    error_message: Option<String>,
}

/// Twilio's error answer.
#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    code: Option<i64>,
    message: Option<String>,
}

#[async_trait::async_trait]
impl SmsProvider for TwilioProvider {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, sms: OutgoingSms<'_>) -> Result<SmsOutcome, SmsError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.settings.api_base, self.settings.account_sid
        );
        let sender = match &self.settings.sender {
            TwilioSender::From(from) => ("From", from.as_str()),
            TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let callback = self.status_callback(sms.message_id.as_str());
        let form = [
            ("To", sms.to),
            sender,
            ("Body", sms.body),
            ("StatusCallback", callback.as_str()),
        ];
        let response = self
            .http
            .post(url)
            .basic_auth(
                &self.settings.account_sid,
                Some(self.settings.auth_token.expose_str()),
            )
            .form(&form)
            .send_traced("twilio")
            .await
            .map_err(|e| SmsError::Unavailable(anyhow::Error::new(e).context("calling Twilio")))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            SmsError::Unavailable(anyhow::Error::new(e).context("reading Twilio's answer"))
        })?;
        if status.is_success() {
            let message: MessageResource = serde_json::from_str(&text).map_err(|e| {
                SmsError::Unavailable(
                    anyhow::Error::new(e).context("Twilio's answer is not a Message resource"),
                )
            })?;
            return Ok(match status_of(&message.status) {
                Some(MessageStatus::Failed) => SmsOutcome::Failed {
                    reason: failure_reason(
                        &message.status,
                        message.error_code.as_ref().map(code_text).as_deref(),
                        message.error_message.as_deref(),
                    ),
                    provider_message_id: message.sid,
                },
                _ => SmsOutcome::Sent {
                    provider_message_id: message.sid,
                },
            });
        }
        let error: Option<ErrorAnswer> = serde_json::from_str(&text).ok();
        let described = match &error {
            Some(ErrorAnswer {
                code: Some(code),
                message,
            }) => format!(
                "Twilio answered {status}, error {code}: {}",
                message.as_deref().unwrap_or("no message")
            ),
            _ => format!(
                "Twilio answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ),
        };
        // A refusal (a bad number, an unverified sender, a blocked
        // recipient) will not change on a retry; a rate limit or an outage
        // will.
        if status.is_client_error() && status.as_u16() != 429 {
            Err(SmsError::Refused(described))
        } else {
            Err(SmsError::Unavailable(anyhow::anyhow!(described)))
        }
    }
}

/// `error_code` is a number in Twilio's answers (and a string in callbacks).
fn code_text(code: &serde_json::Value) -> String {
    match code {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Our status for Twilio's: `accepted`, `scheduled`, `queued`, `sending`
/// and `sent` mean Twilio has the message (ours: `sent`); `delivered` and
/// `read` that it reached the phone; `failed`, `undelivered` and
/// `canceled` that it never will. Other values (inbound statuses) say
/// nothing about an outgoing message.
pub fn status_of(twilio_status: &str) -> Option<MessageStatus> {
    match twilio_status {
        "accepted" | "scheduled" | "queued" | "sending" | "sent" => Some(MessageStatus::Sent),
        "delivered" | "read" => Some(MessageStatus::Delivered),
        "failed" | "undelivered" | "canceled" => Some(MessageStatus::Failed),
        _ => None,
    }
}

/// The reason recorded when Twilio says a message failed.
pub fn failure_reason(status: &str, code: Option<&str>, message: Option<&str>) -> String {
    let mut reason = format!("Twilio reported the message {status}");
    if let Some(code) = code.filter(|c| !c.is_empty()) {
        reason.push_str(&format!(" (error {code})"));
    }
    if let Some(message) = message.filter(|m| !m.is_empty()) {
        reason.push_str(&format!(": {message}"));
    }
    reason
}

/// The `X-Twilio-Signature` of a POST to `url` with `params`: base64 of
/// HMAC-SHA1(auth token, url + each name and value, sorted by name — and
/// by value among a name's repeats, each pair once, as Twilio's libraries
/// do).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// Whether `header` is the signature of a POST to `url` with `params`,
/// compared in constant time. Twilio signs the URL as it requested it,
/// with or without the default port depending on the product: both
/// spellings are accepted, as Twilio's own validators do.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let Ok(expected) = STANDARD.decode(header.trim()) else {
        return false;
    };
    url_spellings(url)
        .iter()
        .any(|url| mac(auth_token, url, params).verify_slice(&expected).is_ok())
}

/// `url` as given, and without its port when it has one, or with the
/// scheme's default port when it has none.
fn url_spellings(url: &str) -> Vec<String> {
    let mut spellings = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return spellings;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        _ => return spellings,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // An IPv6 host is bracketed: its colons are not a port's.
    let host_end = match authority.rfind(']') {
        Some(bracket) => authority[bracket..]
            .find(':')
            .map_or(authority.len(), |colon| bracket + colon),
        None => authority.rfind(':').unwrap_or(authority.len()),
    };
    let (host, port) = authority.split_at(host_end);
    spellings.push(if port.is_empty() {
        format!("{scheme}://{host}:{default}{tail}")
    } else {
        format!("{scheme}://{host}{tail}")
    });
    spellings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The example of Twilio's security documentation ("Validating
    /// Requests are coming from Twilio"): this token, URL and parameters
    /// give this signature.
    #[test]
    fn matches_twilios_documented_example() {
        let token = "12345";
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let expected = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert_eq!(signature(token, url, &params), expected);
        assert!(verify(token, url, &params, expected));
        assert!(!verify("54321", url, &params, expected));
        assert!(!verify(token, url, &params, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!verify(token, url, &params, "not base64!"));
        let mut tampered = params.clone();
        tampered[2].1 = "9999".into();
        assert!(!verify(token, url, &tampered, expected));
    }

    #[test]
    fn the_order_of_the_parameters_does_not_matter() {
        let a = params(&[("MessageStatus", "delivered"), ("MessageSid", "SM1")]);
        let b = params(&[("MessageSid", "SM1"), ("MessageStatus", "delivered")]);
        assert_eq!(
            signature("t", "https://x/y", &a),
            signature("t", "https://x/y", &b)
        );
    }

    #[test]
    fn a_url_signed_with_or_without_its_default_port_is_accepted() {
        let params = params(&[("MessageSid", "SM1")]);
        let with_port = signature("t", "https://api.example.com:443/hook?a=1", &params);
        assert!(verify(
            "t",
            "https://api.example.com/hook?a=1",
            &params,
            &with_port
        ));
        let without = signature("t", "https://api.example.com/hook?a=1", &params);
        assert!(verify(
            "t",
            "https://api.example.com:443/hook?a=1",
            &params,
            &without
        ));
        // Another port is another URL.
        let other = signature("t", "https://api.example.com:8443/hook?a=1", &params);
        assert!(!verify(
            "t",
            "https://api.example.com/hook?a=1",
            &params,
            &other
        ));
    }

    #[test]
    fn twilio_statuses_map_forward() {
        assert_eq!(status_of("queued"), Some(MessageStatus::Sent));
        assert_eq!(status_of("sent"), Some(MessageStatus::Sent));
        assert_eq!(status_of("delivered"), Some(MessageStatus::Delivered));
        assert_eq!(status_of("undelivered"), Some(MessageStatus::Failed));
        assert_eq!(status_of("failed"), Some(MessageStatus::Failed));
        assert_eq!(status_of("received"), None);
        assert_eq!(
            failure_reason("undelivered", Some("30003"), Some("Unreachable")),
            "Twilio reported the message undelivered (error 30003): Unreachable"
        );
    }
}
