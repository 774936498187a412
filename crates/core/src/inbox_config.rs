//! The Inbox module's configuration (`[inbox]`, DESIGN.md §16): whether
//! it is on, where the WhatsApp Cloud API is, the reply window.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// `[inbox]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboxConfig {
    /// Serve the module's routes (off: `/inbox/…` answers 404).
    pub enabled: bool,
    /// The Graph API's base URL (tests point it at a stand-in).
    pub whatsapp_api_base: String,
    /// The Graph API version in its paths.
    pub whatsapp_api_version: String,
    /// Free-form replies are allowed this long after the contact's last
    /// incoming message (WhatsApp's customer-service window: 24 h);
    /// afterwards only templates.
    pub reply_window_secs: u64,
    /// How often a realtime stream looks for new events when nothing woke
    /// it (a change on this instance, or Redis pub/sub from another,
    /// wakes it at once), in milliseconds.
    pub stream_poll_ms: u64,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            whatsapp_api_base: "https://graph.facebook.com".into(),
            whatsapp_api_version: "v21.0".into(),
            reply_window_secs: 24 * 3600,
            stream_poll_ms: 1000,
        }
    }
}

impl InboxConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let base = self.whatsapp_api_base.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) || base.len() < 10 {
            return Err(ConfigError::new(
                "inbox.whatsapp_api_base",
                "must be an http(s) URL",
            ));
        }
        let version = self.whatsapp_api_version.as_str();
        let well_formed = version.strip_prefix('v').is_some_and(|v| {
            let mut parts = v.split('.');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            };
            ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
        });
        if !well_formed {
            return Err(ConfigError::new(
                "inbox.whatsapp_api_version",
                "must look like v21.0",
            ));
        }
        if !(50..=600_000).contains(&self.stream_poll_ms) {
            return Err(ConfigError::new(
                "inbox.stream_poll_ms",
                "must be between 50 and 600000",
            ));
        }
        if self.reply_window_secs == 0 {
            return Err(ConfigError::new(
                "inbox.reply_window_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The URL of `POST /{phone-number-id}/messages`.
    pub fn messages_url(&self, phone_number_id: &str) -> String {
        format!(
            "{}/{}/{}/messages",
            self.whatsapp_api_base.trim_end_matches('/'),
            self.whatsapp_api_version,
            phone_number_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        let config = InboxConfig::default();
        config.validate().unwrap();
        assert_eq!(
            config.messages_url("123"),
            "https://graph.facebook.com/v21.0/123/messages"
        );
        let bad = InboxConfig {
            whatsapp_api_version: "21".into(),
            ..InboxConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "inbox.whatsapp_api_version"
        );
        let bad = InboxConfig {
            whatsapp_api_base: "graph".into(),
            ..InboxConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "inbox.whatsapp_api_base"
        );
    }
}
