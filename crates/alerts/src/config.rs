//! Operator alerts' settings (`[alerts]`): the rules, the channels per
//! severity and how often each instance evaluates. Read by the binary with
//! the core's keys (`LANDLORD_ALERTS__INTERVAL_SECS=60`, …); this crate
//! reads them with `config.section::<AlertsConfig>()`.

use std::collections::BTreeMap;

use landlord_core::config::{Config, ConfigError, Section};
use landlord_core::secret::Secret;
use serde::{Deserialize, Serialize};

landlord_core::text_enum!(
    /// How urgent an alert is; picks its channels.
    pub enum AlertSeverity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
);

/// What a rule measures (each computed from the database, so every
/// instance sees the same value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSignal {
    /// Failed payments among the payments settled in the window, in %.
    PaymentFailureRate,
    /// Webhook events that failed processing among those received in the
    /// window, in %.
    WebhookFailureRate,
    /// 5xx answers among the metered API requests of the window, in %
    /// (from the raw request log's per-minute counts, or the hourly
    /// counters when it is off).
    #[serde(rename = "http_5xx_rate")]
    Http5xxRate,
    /// Failed sign-ins per minute, averaged over the window.
    FailedSignInsPerMinute,
    /// Dead-lettered jobs now (the window does not apply).
    DeadJobs,
    /// Reconciliation discrepancies found in the window.
    NewDiscrepancies,
    /// Snapshot attempts that failed in the window (scheduled, "back up
    /// now" and `landlord backup` alike).
    BackupFailed,
    /// The age of the newest snapshot that succeeded at
    /// `backup.destination`, in `backup.interval_secs` (from the first
    /// attempt when none has yet; 0 without a destination, or on
    /// PostgreSQL). The window does not apply.
    BackupStale,
    /// The highest database pool use among the instances that reported
    /// within the window, in % of their pool (connections in use, the mean
    /// of each instance's samples over its last report, against the most
    /// it may open). Every instance reports every 10 seconds.
    DbPoolUse,
    /// Integrations (SMTP, Stripe, Paystack, outgoing webhooks) degraded
    /// or down at their latest probe round (the window does not apply).
    IntegrationsDegraded,
    /// Integrations down at their latest probe round (the window does not
    /// apply).
    IntegrationsDown,
}

/// One alert rule: fires when the signal's value is above `threshold` for
/// `for_secs`; notifies at most once per `cooldown_secs` when firing, and
/// once when it resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub signal: AlertSignal,
    pub severity: AlertSeverity,
    /// Fires when the value is strictly above this.
    pub threshold: f64,
    /// The window the signal is measured over, in seconds.
    pub window_secs: u64,
    /// How long the threshold must stay crossed before firing (pending).
    #[serde(rename = "for_secs")]
    pub for_secs: u64,
    /// Least time between two firing notifications of this rule.
    pub cooldown_secs: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// Where a notification goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AlertChannel {
    /// A plain-text mail to each address.
    Email { to: Vec<String> },
    /// A Slack-compatible incoming webhook: POST `{"text": …}`.
    Slack { url: Secret<String> },
    /// A JSON POST signed like Standard Webhooks with `secret` (`whsec_…`).
    Webhook { url: String, secret: Secret<String> },
}

/// The channels of each severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertChannels {
    pub info: Vec<AlertChannel>,
    pub warning: Vec<AlertChannel>,
    pub critical: Vec<AlertChannel>,
}

impl AlertChannels {
    pub fn of(&self, severity: AlertSeverity) -> &[AlertChannel] {
        match severity {
            AlertSeverity::Info => &self.info,
            AlertSeverity::Warning => &self.warning,
            AlertSeverity::Critical => &self.critical,
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Run the evaluator on this instance (any number may: one
    /// notification per transition however many evaluate).
    pub evaluate: bool,
    /// Seconds between two evaluations.
    pub interval_secs: u64,
    /// The rules, by name (`[alerts.rules.NAME]`).
    pub rules: BTreeMap<String, AlertRule>,
    pub channels: AlertChannels,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            evaluate: true,
            interval_secs: 30,
            rules: default_rules(),
            channels: AlertChannels::default(),
        }
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;

/// The default rules: failed payments and webhooks, 5xx answers, failed
/// sign-ins, dead jobs, reconciliation discrepancies, failed and stale
/// backups, a database pool above 80 %, integrations degraded or down.
pub fn default_rules() -> BTreeMap<String, AlertRule> {
    let rule = |signal, severity, threshold, window_secs, for_secs, cooldown_secs| AlertRule {
        signal,
        severity,
        threshold,
        window_secs,
        for_secs,
        cooldown_secs,
        enabled: true,
    };
    use AlertSeverity::*;
    use AlertSignal::*;
    [
        (
            "payment_failure_rate",
            rule(PaymentFailureRate, Critical, 15.0, HOUR, 5 * MINUTE, HOUR),
        ),
        (
            "webhook_failure_rate",
            rule(WebhookFailureRate, Warning, 10.0, HOUR, 5 * MINUTE, HOUR),
        ),
        (
            "http_5xx_rate",
            rule(
                Http5xxRate,
                Critical,
                5.0,
                5 * MINUTE,
                2 * MINUTE,
                30 * MINUTE,
            ),
        ),
        (
            "failed_sign_ins",
            rule(
                FailedSignInsPerMinute,
                Warning,
                30.0,
                5 * MINUTE,
                MINUTE,
                HOUR,
            ),
        ),
        ("dead_jobs", rule(DeadJobs, Warning, 0.0, 0, 0, HOUR)),
        (
            "new_discrepancies",
            rule(NewDiscrepancies, Warning, 0.0, HOUR, 0, HOUR),
        ),
        (
            "backup_failed",
            rule(BackupFailed, Critical, 0.0, HOUR, 0, HOUR),
        ),
        ("backup_stale", rule(BackupStale, Critical, 2.0, 0, 0, HOUR)),
        (
            "db_pool_use",
            rule(DbPoolUse, Warning, 80.0, MINUTE, 5 * MINUTE, HOUR),
        ),
        (
            "integration_degraded",
            rule(IntegrationsDegraded, Warning, 0.0, 0, 0, HOUR),
        ),
        (
            "integration_down",
            rule(IntegrationsDown, Critical, 0.0, 0, 0, HOUR),
        ),
    ]
    .into_iter()
    .map(|(name, rule)| (name.to_string(), rule))
    .collect()
}

impl Section for AlertsConfig {
    const KEY: &'static str = "alerts";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        AlertsConfig::validate(self)
    }
}

impl AlertsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs == 0 {
            return Err(ConfigError::new(
                "alerts.interval_secs",
                "must be at least 1",
            ));
        }
        for (name, rule) in &self.rules {
            let setting = format!("alerts.rules.{name}");
            if name.is_empty()
                || name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(ConfigError::new(
                    setting,
                    "a rule's name is 1 to 64 of a-z, 0-9 and _",
                ));
            }
            if !rule.threshold.is_finite() || rule.threshold < 0.0 {
                return Err(ConfigError::new(setting, "threshold must be 0 or more"));
            }
            let windowed = !matches!(
                rule.signal,
                AlertSignal::DeadJobs
                    | AlertSignal::BackupStale
                    | AlertSignal::IntegrationsDegraded
                    | AlertSignal::IntegrationsDown
            );
            if windowed && rule.window_secs == 0 {
                return Err(ConfigError::new(setting, "window_secs must be at least 1"));
            }
        }
        for (severity, channels) in [
            ("info", &self.channels.info),
            ("warning", &self.channels.warning),
            ("critical", &self.channels.critical),
        ] {
            let setting = format!("alerts.channels.{severity}");
            for channel in channels {
                match channel {
                    AlertChannel::Email { to } => {
                        if to.is_empty()
                            || to
                                .iter()
                                .any(|a| a.parse::<lettre::message::Mailbox>().is_err())
                        {
                            return Err(ConfigError::new(
                                setting,
                                "an email channel needs valid addresses in `to`",
                            ));
                        }
                    }
                    AlertChannel::Slack { url } => check_url(&setting, url.expose_str())?,
                    AlertChannel::Webhook { url, secret } => {
                        check_url(&setting, url)?;
                        if landlord_core::webhook_signature::decode_secret(secret.expose_str())
                            .is_none()
                        {
                            return Err(ConfigError::new(
                                setting,
                                "a webhook channel's secret is `whsec_` and base64",
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_url(setting: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::new(
            setting,
            "a channel's url must start with https:// or http://",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    const EXAMPLE: &str = r#"
[alerts]
interval_secs = 30

[alerts.rules.dead_jobs]
threshold = 5

[alerts.rules.quota_burst]
signal = "http_5xx_rate"
severity = "warning"
threshold = 1.0
window_secs = 600
for_secs = 120
cooldown_secs = 3600

[alerts.channels]
critical = [
  { type = "email", to = ["oncall@acme.test"] },
  { type = "slack", url = "https://hooks.slack.com/services/T/B/X" },
]
warning = [{ type = "webhook", url = "https://ops.acme.test/alerts", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }]
"#;

    /// `[alerts]` over its defaults, read and checked as the binary does.
    fn load(toml: &str) -> Result<AlertsConfig, ConfigError> {
        let figment = Figment::from(Serialized::default(
            AlertsConfig::KEY,
            AlertsConfig::default(),
        ))
        .merge(Toml::string(toml));
        let alerts: AlertsConfig = landlord_core::config::read_section(&figment)?;
        Section::validate(&alerts, &Config::default())?;
        Ok(alerts)
    }

    #[test]
    fn the_readme_example_loads_over_the_defaults() {
        let alerts = load(EXAMPLE).unwrap();
        assert_eq!(alerts.rules.len(), 12);
        assert_eq!(alerts.rules["dead_jobs"].threshold, 5.0);
        assert_eq!(alerts.rules["dead_jobs"].cooldown_secs, 3600);
        assert_eq!(alerts.rules["quota_burst"].signal, AlertSignal::Http5xxRate);
        assert!(alerts.rules["quota_burst"].enabled);
        assert_eq!(alerts.channels.critical.len(), 2);
        assert_eq!(alerts.channels.warning.len(), 1);
        assert!(alerts.channels.info.is_empty());
    }

    #[test]
    fn bad_alert_settings_are_refused() {
        for bad in [
            "[alerts]\nnope = 1",
            "[alerts.rules.dead_jobs]\nnope = 1",
            "[alerts]\ninterval_secs = 0",
            "[alerts.channels]\ninfo = [{ type = \"email\", to = [] }]",
            "[alerts.channels]\ninfo = [{ type = \"slack\", url = \"ftp://x\" }]",
            "[alerts.channels]\ninfo = [{ type = \"webhook\", url = \"https://x\", secret = \"plain\" }]",
            "[alerts.channels]\ninfo = [{ type = \"pager\", url = \"https://x\" }]",
        ] {
            assert!(load(bad).is_err(), "{bad}");
        }
    }
}
