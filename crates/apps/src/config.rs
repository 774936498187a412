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
