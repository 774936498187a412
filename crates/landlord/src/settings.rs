//! The whole configuration of an instance: the core's keys and each
//! module's table, read from the same sources (defaults, then the TOML
//! file, then the environment) and checked together. The modules define
//! their tables; this is where they are put side by side.

use std::ops::{Deref, DerefMut};
use std::path::Path;

use figment::providers::Serialized;
use figment::value::Value;
use figment::Figment;
use landlord_alerts::config::AlertsConfig;
use landlord_apps::config::AppsConfig;
use landlord_backup::BackupConfig;
use landlord_core::config::{self, read_section, Config, ConfigError, Section};
use landlord_inbox::config::InboxConfig;
use landlord_marketplace::config::MarketplaceConfig;
use landlord_messages::sms_config::SmsConfig;
use landlord_webhooks::config::WebhooksConfig;
use serde::Serialize;

/// The core's keys at the top level, then one table per module.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Settings {
    #[serde(flatten)]
    pub core: Config,
    /// `[alerts]`: operator alerts' rules, channels and evaluation.
    pub alerts: AlertsConfig,
    /// `[webhooks]`: outgoing webhooks' targets, timeout and retries.
    pub webhooks: WebhooksConfig,
    /// `[inbox]`: the Inbox module.
    pub inbox: InboxConfig,
    /// `[marketplace]`: the Marketplace module.
    pub marketplace: MarketplaceConfig,
    /// `[apps]`: the Apps module and its OAuth / OpenID Connect provider.
    pub apps: AppsConfig,
    /// `[sms]`: the SMS provider (`[sms.twilio]`).
    pub sms: SmsConfig,
    /// `[backup]`: snapshots of the SQLite database, their schedule and
    /// retention.
    pub backup: BackupConfig,
}

/// The modules' tables, by key.
pub const SECTIONS: [&str; 7] = [
    AlertsConfig::KEY,
    WebhooksConfig::KEY,
    InboxConfig::KEY,
    MarketplaceConfig::KEY,
    AppsConfig::KEY,
    SmsConfig::KEY,
    BackupConfig::KEY,
];

/// The tables whose keys are names the operator chooses (a plan, a rule,
/// a plan's fee): listed once, as `NAME`, by [`all_keys`].
const NAMED_TABLES: [&str; 3] = ["plans", "alerts.rules", "marketplace.fee_bps"];

impl Settings {
    /// The sources in order: these defaults, then `file` (or
    /// `./landlord.toml`), then the environment.
    pub fn sources(file: Option<&Path>) -> Result<Figment, ConfigError> {
        config::sources(Serialized::defaults(Settings::default()), file)
    }

    /// Reads and checks the whole configuration.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(&Self::sources(file)?)
    }

    /// Reads every key of `figment`, refusing unknown ones, then checks
    /// the core's values and each module's, in that order.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let settings = Self {
            core: Config::extract_with_sections(figment, &SECTIONS)?,
            alerts: read_section(figment)?,
            webhooks: read_section(figment)?,
            inbox: read_section(figment)?,
            marketplace: read_section(figment)?,
            apps: read_section(figment)?,
            sms: read_section(figment)?,
            backup: read_section(figment)?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what deserialization alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.core.validate()?;
        Section::validate(&self.alerts, &self.core)?;
        Section::validate(&self.webhooks, &self.core)?;
        Section::validate(&self.inbox, &self.core)?;
        Section::validate(&self.marketplace, &self.core)?;
        Section::validate(&self.apps, &self.core)?;
        Section::validate(&self.sms, &self.core)?;
        Section::validate(&self.backup, &self.core)?;
        Ok(())
    }

    /// The core's configuration carrying each module's section, as the
    /// application's states take it.
    pub fn into_config(self) -> Config {
        self.core
            .with_section(self.alerts)
            .with_section(self.webhooks)
            .with_section(self.inbox)
            .with_section(self.marketplace)
            .with_section(self.apps)
            .with_section(self.sms)
            .with_section(self.backup)
    }

    /// One line per key with a value, `key = value  # source`, secrets as
    /// `[redacted]`; `figment` is the one these settings were read from.
    pub fn describe(&self, figment: &Figment) -> Result<Vec<String>, ConfigError> {
        let value = landlord_core::secret::redacted(|| {
            Value::serialize(self)
                .map_err(|error| ConfigError::new("configuration", error.to_string()))
        })?;
        let mut lines = Vec::new();
        for path in config::key_paths(&value) {
            let Some(leaf) = value.find_ref(&path) else {
                continue;
            };
            if matches!(leaf, Value::Dict(_, dict) if !dict.is_empty()) {
                continue;
            }
            lines.push(format!(
                "{path} = {}  # {}",
                show(leaf),
                config::source_of(figment, &path)
            ));
        }
        Ok(lines)
    }
}

/// A value as written in TOML (an unset one as `(unset)`).
fn show(value: &Value) -> String {
    match value {
        Value::Empty(..) => "(unset)".into(),
        Value::Dict(_, dict) if dict.is_empty() => "{}".into(),
        value => serde_json::to_string(value).unwrap_or_else(|_| "?".into()),
    }
}

impl Deref for Settings {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.core
    }
}

impl DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.core
    }
}

/// The path of every setting, tables included (`inbox`, `inbox.enabled`,
/// `sms.twilio.account_sid`); keys the operator names are written `NAME`
/// (`plans.NAME.price`, `alerts.rules.NAME.threshold`).
pub fn all_keys() -> Vec<String> {
    let value = match Value::serialize(Settings::default()) {
        Ok(value) => value,
        Err(_) => return Vec::new(),
    };
    let mut keys: Vec<String> = Vec::new();
    for path in config::key_paths(&value) {
        let general = NAMED_TABLES
            .iter()
            .find_map(|table| {
                let rest = path.strip_prefix(table)?.strip_prefix('.')?;
                let tail = rest.split_once('.').map_or("", |(_, tail)| tail);
                Some(if tail.is_empty() {
                    format!("{table}.NAME")
                } else {
                    format!("{table}.NAME.{tail}")
                })
            })
            .unwrap_or(path);
        if !keys.contains(&general) {
            keys.push(general);
        }
    }
    keys
}

#[cfg(test)]
mod tests;
