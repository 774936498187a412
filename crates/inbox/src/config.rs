//! The Inbox module's settings (`[inbox]`): whether it is on, where the
//! WhatsApp Cloud API is, the reply window, the realtime streams' limits.
//! Read by the binary with the core's keys (`LANDLORD_INBOX__ENABLED`, …);
//! the inbox reads them with `config.section::<InboxConfig>()`.

use landlord_core::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};

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
    /// A stream ends after this long (seconds) and the client reconnects
    /// with `Last-Event-ID`, so no connection outlives a re-authentication
    /// for long.
    pub stream_max_lifetime_secs: u64,
    /// How often the open streams' sessions and memberships are checked
    /// again (milliseconds); a sign-out, a revocation or a removal on this
    /// instance — or on another, through Redis — is checked at once.
    pub stream_access_check_ms: u64,
    /// Open streams a person may hold on one instance (429 beyond).
    pub max_streams_per_user: u32,
    /// Open streams an organization's members may hold together on one
    /// instance (429 beyond).
    pub max_streams_per_organization: u32,
    /// Streams a person may open per minute (shared through Redis when
    /// configured; 429 with `Retry-After` beyond).
    pub stream_opens_per_minute: u32,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            whatsapp_api_base: "https://graph.facebook.com".into(),
            whatsapp_api_version: "v21.0".into(),
            reply_window_secs: 24 * 3600,
            stream_poll_ms: 1000,
            stream_max_lifetime_secs: 15 * 60,
            stream_access_check_ms: 5000,
            max_streams_per_user: 10,
            max_streams_per_organization: 200,
            stream_opens_per_minute: 30,
        }
    }
}

impl Section for InboxConfig {
    const KEY: &'static str = "inbox";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        InboxConfig::validate(self)
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
        if !(1..=86_400).contains(&self.stream_max_lifetime_secs) {
            return Err(ConfigError::new(
                "inbox.stream_max_lifetime_secs",
                "must be between 1 and 86400",
            ));
        }
        if !(50..=60_000).contains(&self.stream_access_check_ms) {
            return Err(ConfigError::new(
                "inbox.stream_access_check_ms",
                "must be between 50 and 60000",
            ));
        }
        for (setting, value) in [
            ("inbox.max_streams_per_user", self.max_streams_per_user),
            (
                "inbox.max_streams_per_organization",
                self.max_streams_per_organization,
            ),
            (
                "inbox.stream_opens_per_minute",
                self.stream_opens_per_minute,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::new(setting, "must be at least 1"));
            }
        }
        if self.reply_window_secs == 0 {
            return Err(ConfigError::new(
                "inbox.reply_window_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The URL of `GET /{phone-number-id}` (the number as Meta shows it).
    pub fn phone_number_url(&self, phone_number_id: &str) -> String {
        format!(
            "{}/{}/{}",
            self.whatsapp_api_base.trim_end_matches('/'),
            self.whatsapp_api_version,
            phone_number_id
        )
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
        let bad = InboxConfig {
            max_streams_per_user: 0,
            ..InboxConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "inbox.max_streams_per_user"
        );
        let bad = InboxConfig {
            stream_max_lifetime_secs: 0,
            ..InboxConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "inbox.stream_max_lifetime_secs"
        );
    }
}
