//! The Apps module's settings (`[apps]`): whether it is on, the slugs no
//! one may take, how long a deleted app's slug stays quarantined, and the
//! lifetimes of the OAuth provider's codes and tokens. Read by the binary
//! with the core's keys (`LANDLORD_APPS__ENABLED=false`, …); the module
//! reads them with `config.section::<AppsConfig>()`.

use landlord_core::config::{Config, ConfigError, Section};
use serde::{Deserialize, Serialize};

/// Slugs no app may take, whatever the configuration adds: they name the
/// platform's own hosts.
pub const RESERVED_SLUGS: &[&str] = &[
    "www", "api", "admin", "auth", "console", "docs", "status", "mail",
];

/// `[apps]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppsConfig {
    /// Serve the module's routes and pages (off: `/api/v1/apps…`,
    /// `/oauth/…` and the discovery documents answer 404).
    pub enabled: bool,
    /// Slugs refused besides the built-in ones (`www`, `api`, `admin`, …).
    pub reserved_slugs: Vec<String>,
    /// Days a deleted app's slug stays kept from other organizations.
    pub slug_quarantine_days: u32,
    /// Lifetime of an access token issued to a person's sign-in, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds (each use rotates it).
    pub refresh_token_ttl_secs: u64,
    /// Seconds a rotated refresh token is still accepted (two refreshes
    /// racing each other both succeed); a use after it revokes the family.
    pub refresh_reuse_grace_secs: u64,
    /// Lifetime of an installation's client-credentials token, in seconds.
    pub installation_token_ttl_secs: u64,
    /// Lifetime of an ID token, in seconds.
    pub id_token_ttl_secs: u64,
    /// The domain apps live under: the app `notes` answers at
    /// `notes.{domain}`. `apps.localhost` works in a browser on the same
    /// machine without any DNS (every `*.localhost` name is loopback).
    #[serde(alias = "apps_domain")]
    pub domain: String,
    /// Let apps' upstreams be private addresses (loopback, RFC 1918, …).
    /// Off: an upstream must be a public address, checked when it is set
    /// and again at every connection, as for outgoing webhooks.
    pub allow_private_upstreams: bool,
    /// Milliseconds the gateway waits for a connection to an upstream.
    pub gateway_connect_timeout_ms: u64,
    /// Seconds the gateway waits for an upstream's answer to start
    /// (its headers), after which the visitor gets 504.
    pub gateway_timeout_secs: u64,
    /// The largest request body the gateway forwards, in bytes (413
    /// beyond).
    pub gateway_body_limit_bytes: u64,
    /// Hosts (apps found) the routing cache keeps.
    pub host_cache_entries: u64,
    /// Hosts found to be no app's (negative entries) the cache keeps,
    /// apart, so unknown names cannot push real apps out.
    pub host_cache_negative_entries: u64,
    /// How often, in milliseconds, an instance without Redis looks for
    /// routing changes made by other instances.
    pub routing_poll_ms: u64,
    /// The DNS server custom domains' TXT records are looked up at
    /// (`host:port`); empty: the system's resolver.
    pub dns_resolver: String,
    /// Hours between two checks of a verified custom domain's record.
    pub domain_recheck_hours: u64,
    /// Hours an app's previous gateway signing secret still signs (beside
    /// the new one) after a rotation.
    pub gateway_secret_overlap_hours: u64,
}

impl Default for AppsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reserved_slugs: Vec::new(),
            slug_quarantine_days: 30,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_reuse_grace_secs: 30,
            installation_token_ttl_secs: 3600,
            id_token_ttl_secs: 3600,
            domain: "apps.localhost".into(),
            allow_private_upstreams: false,
            gateway_connect_timeout_ms: 5_000,
            gateway_timeout_secs: 30,
            gateway_body_limit_bytes: 10 * 1024 * 1024,
            host_cache_entries: 100_000,
            host_cache_negative_entries: 10_000,
            routing_poll_ms: 1_000,
            dns_resolver: String::new(),
            domain_recheck_hours: 24,
            gateway_secret_overlap_hours: 24,
        }
    }
}

/// How long an authorization code lives: fixed, as OAuth 2.1 advises.
pub const CODE_TTL_SECS: u64 = 60;

impl Section for AppsConfig {
    const KEY: &'static str = "apps";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        AppsConfig::validate(self)
    }
}

impl AppsConfig {
    /// Checks the values, naming the setting that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for slug in &self.reserved_slugs {
            if crate::slug::check_shape(slug).is_err() {
                return Err(ConfigError::new(
                    "apps.reserved_slugs",
                    format!("{slug:?} is not a slug (3 to 40 of a-z, 0-9 and -)"),
                ));
            }
        }
        let ranges: [(&str, u64, u64, u64); 5] = [
            (
                "apps.access_token_ttl_secs",
                self.access_token_ttl_secs,
                60,
                24 * 3600,
            ),
            (
                "apps.refresh_token_ttl_secs",
                self.refresh_token_ttl_secs,
                300,
                365 * 24 * 3600,
            ),
            (
                "apps.refresh_reuse_grace_secs",
                self.refresh_reuse_grace_secs,
                0,
                300,
            ),
            (
                "apps.installation_token_ttl_secs",
                self.installation_token_ttl_secs,
                60,
                24 * 3600,
            ),
            (
                "apps.id_token_ttl_secs",
                self.id_token_ttl_secs,
                60,
                24 * 3600,
            ),
        ];
        for (setting, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    setting,
                    format!("must be between {min} and {max} (seconds)"),
                ));
            }
        }
        let domain = self.domain.trim();
        if domain.is_empty()
            || domain != domain.to_ascii_lowercase()
            || !domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(ConfigError::new(
                "apps.domain",
                "must be a lower-case domain name such as apps.example.com",
            ));
        }
        if !self.dns_resolver.is_empty()
            && self.dns_resolver.parse::<std::net::SocketAddr>().is_err()
        {
            return Err(ConfigError::new(
                "apps.dns_resolver",
                "must be an address and port such as 127.0.0.1:53, or empty",
            ));
        }
        let gateway: [(&str, u64, u64, u64); 8] = [
            (
                "apps.gateway_connect_timeout_ms",
                self.gateway_connect_timeout_ms,
                10,
                60_000,
            ),
            (
                "apps.gateway_timeout_secs",
                self.gateway_timeout_secs,
                1,
                3600,
            ),
            (
                "apps.gateway_body_limit_bytes",
                self.gateway_body_limit_bytes,
                1024,
                1 << 32,
            ),
            (
                "apps.host_cache_entries",
                self.host_cache_entries,
                100,
                10_000_000,
            ),
            (
                "apps.host_cache_negative_entries",
                self.host_cache_negative_entries,
                100,
                10_000_000,
            ),
            ("apps.routing_poll_ms", self.routing_poll_ms, 50, 60_000),
            (
                "apps.domain_recheck_hours",
                self.domain_recheck_hours,
                1,
                24 * 30,
            ),
            (
                "apps.gateway_secret_overlap_hours",
                self.gateway_secret_overlap_hours,
                0,
                24 * 30,
            ),
        ];
        for (setting, value, min, max) in gateway {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(
                    setting,
                    format!("must be between {min} and {max}"),
                ));
            }
        }
        if !(1..=3650).contains(&self.slug_quarantine_days) {
            return Err(ConfigError::new(
                "apps.slug_quarantine_days",
                "must be between 1 and 3650",
            ));
        }
        Ok(())
    }

    /// Is `slug` reserved (built in or configured)?
    pub fn is_reserved(&self, slug: &str) -> bool {
        RESERVED_SLUGS.contains(&slug) || self.reserved_slugs.iter().any(|s| s == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        AppsConfig::default().validate().unwrap();
        let config = AppsConfig {
            reserved_slugs: vec!["billing".into()],
            ..AppsConfig::default()
        };
        assert!(config.is_reserved("billing") && config.is_reserved("www"));
        assert!(!config.is_reserved("acme"));
        let bad = AppsConfig {
            reserved_slugs: vec!["No Spaces".into()],
            ..AppsConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().setting, "apps.reserved_slugs");
        let bad = AppsConfig {
            refresh_reuse_grace_secs: 3600,
            ..AppsConfig::default()
        };
        assert_eq!(
            bad.validate().unwrap_err().setting,
            "apps.refresh_reuse_grace_secs"
        );
    }
}
