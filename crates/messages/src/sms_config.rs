//! The SMS provider's settings (`[sms]`): Twilio's Messages API. Read by
//! the binary with the core's keys; this crate reads them with
//! `config.section::<SmsConfig>()`.
//!
//! In the file:
//!
//! ```toml
//! [sms.twilio]
//! account_sid = "AC…"
//! auth_token = "…"
//! from = "+14155550100"          # or messaging_service_sid = "MG…"
//! ```
//!
//! and in the environment `LANDLORD_SMS__TWILIO__ACCOUNT_SID`, …

use landlord_core::config::{Config, ConfigError, Section};
use landlord_core::secret::Secret;
use serde::{Deserialize, Deserializer, Serialize};

/// `[sms]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `[sms.twilio]`: SMS through Twilio when `account_sid` is set.
    pub twilio: TwilioConfig,
}

/// `[sms.twilio]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwilioConfig {
    /// The account (`AC` and 32 hexadecimal characters); unset: Twilio
    /// is not used.
    pub account_sid: Option<String>,
    /// The account's Auth Token: the password of the API calls and the
    /// key of the `X-Twilio-Signature` of status callbacks.
    pub auth_token: Option<Secret<String>>,
    /// The sender: a Twilio number in E.164, a short code or an
    /// alphanumeric sender id. Exactly one of `from` and
    /// `messaging_service_sid`.
    #[serde(deserialize_with = "sender_or_number")]
    pub from: Option<String>,
    /// A Messaging Service (`MG` and 32 hexadecimal characters) that picks
    /// the sender.
    pub messaging_service_sid: Option<String>,
    /// Twilio's REST API (tests point it at a stand-in).
    pub api_base: String,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            account_sid: None,
            auth_token: None,
            from: None,
            messaging_service_sid: None,
            api_base: "https://api.twilio.com".into(),
        }
    }
}

/// A Twilio configuration that passed validation: everything a call needs.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: Secret<String>,
    pub sender: TwilioSender,
    /// Without a trailing slash.
    pub api_base: String,
}

/// Who a message is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// `From`.
    From(String),
    /// `MessagingServiceSid`.
    MessagingService(String),
}

/// `from` as written, or as the environment gives it: an unquoted
/// `LANDLORD_SMS__TWILIO__FROM=+14155550100` arrives as the number
/// 14155550100 (the environment's values are parsed, and `+` is read as a
/// sign). A number of 9 digits or more is a phone number whose `+` was
/// lost; a shorter one is a short code.
fn sender_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Sender {
        Text(String),
        Number(u64),
    }
    Ok(
        Option::<Sender>::deserialize(deserializer)?.map(|sender| match sender {
            Sender::Text(text) => text,
            Sender::Number(n) if n >= 100_000_000 => format!("+{n}"),
            Sender::Number(n) => n.to_string(),
        }),
    )
}

/// `prefix` then 32 lowercase or uppercase hexadecimal characters.
fn is_sid(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A phone number in E.164, a short code (3 to 8 digits) or an
/// alphanumeric sender id (1 to 11 letters, digits and spaces, one letter
/// at least): what Twilio accepts as `From`.
fn is_sender(value: &str) -> bool {
    let e164 = value.strip_prefix('+').is_some_and(|d| {
        (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    });
    let short_code = (3..=8).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ')
        && value.bytes().any(|b| b.is_ascii_alphabetic());
    e164 || short_code || alphanumeric
}

impl Section for SmsConfig {
    const KEY: &'static str = "sms";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        SmsConfig::validate(self)
    }
}

impl SmsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.twilio.settings().map(|_| ())
    }

    /// Twilio's settings when Twilio is configured.
    pub fn twilio(&self) -> Option<TwilioSettings> {
        self.twilio.settings().ok().flatten()
    }
}

impl TwilioConfig {
    /// `None` when nothing is set; the settings when they are complete;
    /// an error naming the first setting missing or wrong otherwise.
    pub fn settings(&self) -> Result<Option<TwilioSettings>, ConfigError> {
        let base = self.api_base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) || base.len() < 10 {
            return Err(ConfigError::new(
                "sms.twilio.api_base",
                "must be an http(s) URL",
            ));
        }
        let nothing_set = self.account_sid.is_none()
            && self.auth_token.is_none()
            && self.from.is_none()
            && self.messaging_service_sid.is_none();
        if nothing_set {
            return Ok(None);
        }
        let account_sid = self.account_sid.as_deref().map(str::trim);
        let Some(account_sid) = account_sid.filter(|sid| is_sid(sid, "AC")) else {
            return Err(ConfigError::new(
                "sms.twilio.account_sid",
                "must be the account's SID: AC followed by 32 hexadecimal characters",
            ));
        };
        let auth_token = self
            .auth_token
            .as_ref()
            .filter(|token| {
                let token = token.expose_str();
                token.len() >= 16 && !token.chars().any(|c| c.is_whitespace() || c.is_control())
            })
            .ok_or_else(|| {
                ConfigError::new(
                    "sms.twilio.auth_token",
                    "must be the account's Auth Token (at least 16 characters, no spaces)",
                )
            })?;
        let from = self.from.as_deref().map(str::trim);
        let service = self.messaging_service_sid.as_deref().map(str::trim);
        let sender = match (from, service) {
            (Some(from), None) if is_sender(from) => TwilioSender::From(from.to_string()),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "sms.twilio.from",
                    "must be a number in E.164 (+14155550100), a short code or an alphanumeric sender id of at most 11 characters",
                ))
            }
            (None, Some(sid)) if is_sid(sid, "MG") => TwilioSender::MessagingService(sid.into()),
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "sms.twilio.messaging_service_sid",
                    "must be MG followed by 32 hexadecimal characters",
                ))
            }
            _ => {
                return Err(ConfigError::new(
                    "sms.twilio.from",
                    "set exactly one of from and messaging_service_sid",
                ))
            }
        };
        Ok(Some(TwilioSettings {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.clone(),
            sender,
            api_base: base.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    fn complete() -> TwilioConfig {
        TwilioConfig {
            account_sid: Some(SID.into()),
            auth_token: Some("0123456789abcdef0123456789abcdef".into()),
            from: Some("+14155550100".into()),
            ..TwilioConfig::default()
        }
    }

    #[test]
    fn unset_is_valid_and_means_no_twilio() {
        let config = SmsConfig::default();
        config.validate().unwrap();
        assert!(config.twilio().is_none());
    }

    #[test]
    fn complete_settings_are_taken() {
        let config = SmsConfig { twilio: complete() };
        config.validate().unwrap();
        let settings = config.twilio().unwrap();
        assert_eq!(settings.account_sid, SID);
        assert_eq!(settings.sender, TwilioSender::From("+14155550100".into()));
        assert_eq!(settings.api_base, "https://api.twilio.com");
        let service = TwilioConfig {
            from: None,
            messaging_service_sid: Some("MG0123456789abcdef0123456789abcdef".into()),
            ..complete()
        };
        assert!(matches!(
            service.settings().unwrap().unwrap().sender,
            TwilioSender::MessagingService(_)
        ));
        for sender in ["Acme", "12345", "Acme Corp"] {
            let config = TwilioConfig {
                from: Some(sender.into()),
                ..complete()
            };
            assert!(config.settings().is_ok(), "{sender}");
        }
    }

    #[test]
    fn incomplete_or_wrong_settings_are_named() {
        let cases = [
            (
                TwilioConfig {
                    account_sid: None,
                    ..complete()
                },
                "sms.twilio.account_sid",
            ),
            (
                TwilioConfig {
                    account_sid: Some("AC123".into()),
                    ..complete()
                },
                "sms.twilio.account_sid",
            ),
            (
                TwilioConfig {
                    auth_token: None,
                    ..complete()
                },
                "sms.twilio.auth_token",
            ),
            (
                TwilioConfig {
                    from: None,
                    ..complete()
                },
                "sms.twilio.from",
            ),
            (
                TwilioConfig {
                    from: Some("not a number!".into()),
                    ..complete()
                },
                "sms.twilio.from",
            ),
            (
                TwilioConfig {
                    messaging_service_sid: Some("MG0123456789abcdef0123456789abcdef".into()),
                    ..complete()
                },
                "sms.twilio.from",
            ),
            (
                TwilioConfig {
                    from: None,
                    messaging_service_sid: Some("MGnope".into()),
                    ..complete()
                },
                "sms.twilio.messaging_service_sid",
            ),
            (
                TwilioConfig {
                    api_base: "twilio".into(),
                    ..complete()
                },
                "sms.twilio.api_base",
            ),
        ];
        for (config, setting) in cases {
            let config = SmsConfig { twilio: config };
            assert_eq!(config.validate().unwrap_err().setting, setting);
            assert!(config.twilio().is_none());
        }
    }

    #[test]
    fn debug_hides_the_auth_token() {
        let twilio = TwilioConfig {
            auth_token: Some("twilio-auth-token-value-42".into()),
            ..complete()
        };
        let printed = format!("{:?}", SmsConfig { twilio });
        assert!(!printed.contains("twilio-auth-token-value-42"), "{printed}");
        assert!(printed.contains("[redacted]"));
    }
}
