//! Outgoing webhooks' settings (`[webhooks]`): who may be called, how long
//! an attempt may take and when the next one comes. Read by the binary with
//! the core's keys (`LANDLORD_WEBHOOKS__ALLOW_HTTP=true`, …); this crate
//! reads them with `config.section::<WebhooksConfig>()`.

use landlord_core::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};

const SECOND: u64 = 1000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// `[webhooks]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Fan new events out to endpoints on this instance (any number may:
    /// one delivery per event and endpoint however many do).
    pub dispatch: bool,
    /// Milliseconds between two looks for new events.
    pub dispatch_interval_ms: u64,
    /// Accept `http://` endpoint URLs (off: https only).
    pub allow_http: bool,
    /// Accept endpoints whose host is or resolves to a private, loopback,
    /// link-local, shared or metadata address (off: refused at creation
    /// and at every delivery — no SSRF). Tests turn it on.
    pub allow_private_addresses: bool,
    /// Ports below 1024 besides 443 and 80 that endpoint URLs may use
    /// (none by default: those are SSH's, SMTP's, DNS's… and a webhook
    /// has no business with them). Ports from 1024 up are always allowed.
    pub allowed_ports: Vec<u16>,
    /// How long one attempt may take, in milliseconds (connect, send,
    /// answer).
    pub timeout_ms: u64,
    /// The waits before each retry, in milliseconds: the Standard
    /// Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
    /// Each is jittered by ±`jitter_percent`; a `Retry-After` answer
    /// that asks for longer wins.
    pub retry_delays_ms: Vec<u64>,
    /// Jitter of each retry delay, in percent.
    pub jitter_percent: u32,
    /// An endpoint whose attempts failed without a success for this long
    /// is disabled and its organization's owners mailed (5 days).
    pub disable_after_failing_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            dispatch: true,
            dispatch_interval_ms: SECOND,
            allow_http: false,
            allow_private_addresses: false,
            allowed_ports: Vec::new(),
            timeout_ms: 15 * SECOND,
            retry_delays_ms: vec![
                5 * SECOND,
                5 * MINUTE,
                30 * MINUTE,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ],
            jitter_percent: 20,
            disable_after_failing_ms: 5 * 24 * HOUR,
        }
    }
}

impl Section for WebhooksConfig {
    const KEY: &'static str = "webhooks";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        WebhooksConfig::validate(self)
    }
}

impl WebhooksConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dispatch_interval_ms == 0 {
            return Err(ConfigError::new(
                "webhooks.dispatch_interval_ms",
                "must be at least 1",
            ));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(ConfigError::new(
                "webhooks.timeout_ms",
                "must be between 100 and 120000",
            ));
        }
        if self.retry_delays_ms.len() > 20 {
            return Err(ConfigError::new(
                "webhooks.retry_delays_ms",
                "at most 20 retries",
            ));
        }
        if self.allowed_ports.contains(&0) {
            return Err(ConfigError::new(
                "webhooks.allowed_ports",
                "port 0 is not a port",
            ));
        }
        if self.allowed_ports.len() > 64 {
            return Err(ConfigError::new(
                "webhooks.allowed_ports",
                "at most 64 ports",
            ));
        }
        if self.jitter_percent > 50 {
            return Err(ConfigError::new(
                "webhooks.jitter_percent",
                "must be between 0 and 50",
            ));
        }
        if self.disable_after_failing_ms == 0 {
            return Err(ConfigError::new(
                "webhooks.disable_after_failing_ms",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_standard_webhooks_schedule() {
        let config = WebhooksConfig::default();
        let secs: Vec<u64> = config.retry_delays_ms.iter().map(|ms| ms / 1000).collect();
        assert_eq!(secs, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(config.timeout_ms, 15_000);
        assert_eq!(config.disable_after_failing_ms, 5 * 24 * 3600 * 1000);
        assert!(!config.allow_http && !config.allow_private_addresses);
        config.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = WebhooksConfig {
            timeout_ms: 10,
            ..WebhooksConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().setting, "webhooks.timeout_ms");
        let bad = WebhooksConfig {
            jitter_percent: 90,
            ..WebhooksConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "webhooks.jitter_percent"
        );
    }
}
