use figment::providers::{Env, Format, Toml};
use landlord_messages::sms_config::TwilioSender;

use super::*;

fn defaults() -> Figment {
    Figment::from(Serialized::defaults(Settings::default()))
}

fn with_toml(toml: &str) -> Result<Settings, ConfigError> {
    Settings::from_figment(&defaults().merge(Toml::string(toml)))
}

/// The environment as the binary reads it, under a prefix of the test's
/// own so that its variables reach no other test.
fn from_env(prefix: &str, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    for (key, value) in pairs {
        std::env::set_var(format!("{prefix}{key}"), value);
    }
    Settings::from_figment(&defaults().merge(Env::prefixed(prefix).split("__")))
}

#[test]
fn sms_settings_are_read_and_checked() {
    let settings = with_toml(
        "sms.twilio = { account_sid = \"AC0123456789abcdef0123456789abcdef\", auth_token = \"0123456789abcdef0123456789abcdef\", from = \"+14155550100\" }",
    )
    .unwrap();
    assert!(settings.sms.twilio().is_some());
    let err = with_toml("sms.twilio = { account_sid = \"AC1\" }").unwrap_err();
    assert_eq!(err.setting, "sms.twilio.account_sid");
}

#[test]
fn table_settings_come_from_the_environment_with_double_underscores() {
    let prefix = "LLSETTINGSTEST_SMS_";
    let settings = from_env(
        prefix,
        &[
            (
                "SMS__TWILIO__ACCOUNT_SID",
                "AC0123456789abcdef0123456789abcdef",
            ),
            (
                "SMS__TWILIO__AUTH_TOKEN",
                "0123456789abcdef0123456789abcdef",
            ),
            // Unquoted, as an operator writes it: parsed as a number.
            ("SMS__TWILIO__FROM", "+14155550100"),
        ],
    )
    .unwrap();
    let twilio = settings.sms.twilio().unwrap();
    assert_eq!(twilio.sender, TwilioSender::From("+14155550100".into()));
    assert_eq!(twilio.account_sid, "AC0123456789abcdef0123456789abcdef");
    let settings = from_env(prefix, &[("SMS__TWILIO__FROM", "12345")]).unwrap();
    assert_eq!(
        settings.sms.twilio().unwrap().sender,
        TwilioSender::From("12345".into()),
        "a short code"
    );
}

#[test]
fn every_table_can_be_set_from_the_environment_alone() {
    let settings = from_env(
        "LLSETTINGSTEST_TABLES_",
        &[
            ("WEBHOOKS__ALLOW_HTTP", "true"),
            ("WEBHOOKS__RETRY_DELAYS_MS", "[1000, 2000]"),
            ("PLANS__STARTER__PRICE", "1000"),
            // A plan the defaults do not have: the whole table from variables.
            ("PLANS__ENTERPRISE__PRICE", "50000"),
            ("PLANS__ENTERPRISE__CURRENCY", "USD"),
            ("PLANS__ENTERPRISE__RATE_LIMIT_PER_MINUTE", "3000"),
            ("MARKETPLACE__FEE_BPS__PRO", "750"),
            ("INBOX__ENABLED", "false"),
            ("ALERTS__RULES__DEAD_JOBS__THRESHOLD", "3"),
            (
                "ALERTS__CHANNELS__CRITICAL",
                "[{type = \"email\", to = [\"oncall@acme.test\"]}]",
            ),
        ],
    )
    .unwrap();
    assert!(settings.webhooks.allow_http);
    assert_eq!(settings.webhooks.retry_delays_ms, [1000, 2000]);
    assert_eq!(settings.plans["starter"].price, 1000);
    assert_eq!(
        settings.plans["starter"].currency,
        Settings::default().plans["starter"].currency,
        "the rest of the plan kept"
    );
    assert_eq!(settings.plans["enterprise"].rate_limit_per_minute, 3000);
    assert_eq!(settings.marketplace.fee_bps_for("pro"), 750);
    assert!(!settings.inbox.enabled);
    assert_eq!(settings.alerts.rules["dead_jobs"].threshold, 3.0);
    assert_eq!(
        settings.alerts.rules.len(),
        Settings::default().alerts.rules.len(),
        "the other rules kept"
    );
    assert_eq!(settings.alerts.channels.critical.len(), 1);
}

#[test]
fn unknown_keys_are_refused_naming_them() {
    assert_eq!(with_toml("lisen = 1").unwrap_err().setting, "lisen");
    let err = with_toml("[inbox]\nnope = 1").unwrap_err();
    assert_eq!(err.setting, "nope");
    assert!(err.reason.contains("unknown setting"), "{err}");
    let err = from_env("LLSETTINGSTEST_UNKNOWN_", &[("WEBHOOKS__RETRIES", "3")]).unwrap_err();
    assert_eq!(err.setting, "retries");
    let err = from_env("LLSETTINGSTEST_UNKNOWN_TOP_", &[("LISTN", "x")]).unwrap_err();
    assert_eq!(err.setting, "listn");
    assert!(err.reason.contains("environment"), "{err}");
}

#[test]
fn a_module_setting_is_checked_and_named() {
    let err = with_toml("[inbox]\nstream_poll_ms = \"often\"").unwrap_err();
    assert_eq!(err.setting, "stream_poll_ms");
    let err = with_toml("[inbox]\nstream_poll_ms = 1").unwrap_err();
    assert_eq!(err.setting, "inbox.stream_poll_ms");
    let err = with_toml("[marketplace.fee_bps]\ngold = 10").unwrap_err();
    assert_eq!(err.setting, "marketplace.fee_bps");
    let err = with_toml("inbox = 3").unwrap_err();
    assert_eq!(err.setting, "inbox");
}

#[test]
fn the_states_receive_each_section() {
    let settings = with_toml("[webhooks]\ntimeout_ms = 5000\n[inbox]\nenabled = false").unwrap();
    let config = settings.into_config();
    assert_eq!(config.section::<WebhooksConfig>().timeout_ms, 5000);
    assert!(!config.section::<InboxConfig>().enabled);
}

#[test]
fn debug_shows_no_secret() {
    // A Slack incoming webhook's URL is its credential.
    let settings = with_toml(
        "[alerts.channels]\ncritical = [{ type = \"slack\", url = \"https://hooks.slack.com/services/T0/B0/slack-secret-path\" }]",
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("slack-secret-path"));
    assert!(!format!("{:?}", settings.into_config()).contains("slack-secret-path"));
}

#[test]
fn describe_names_each_source_and_redacts_secrets() {
    let figment = defaults()
        .merge(Toml::string(
            "body_limit_bytes = 4096\nstripe_secret_key = \"sk_test_described_secret\"\n[webhooks]\nallow_http = true",
        ));
    let settings = Settings::from_figment(&figment).unwrap();
    let lines = settings.describe(&figment).unwrap();
    let line = |key: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} missing: {lines:#?}"))
            .clone()
    };
    assert_eq!(line("listen"), "listen = \"127.0.0.1:8080\"  # default");
    assert!(line("body_limit_bytes").starts_with("body_limit_bytes = 4096  # TOML"));
    assert!(line("webhooks.allow_http").starts_with("webhooks.allow_http = true  # TOML"));
    assert_eq!(line("smtp_host"), "smtp_host = (unset)  # default");
    assert!(line("stripe_secret_key").contains("[redacted]"));
    assert!(!lines.join("\n").contains("sk_test_described_secret"));
    assert!(line("sms.twilio.api_base").ends_with("# default"));
}

#[test]
fn all_keys_lists_every_setting_and_table() {
    let keys = all_keys();
    for key in [
        "listen",
        "database_url",
        "smtp_host",
        "plans",
        "plans.NAME",
        "plans.NAME.price",
        "plans.NAME.included_requests",
        "inbox",
        "inbox.enabled",
        "webhooks.allow_http",
        "marketplace.fee_bps",
        "alerts.rules.NAME.threshold",
        "alerts.channels.critical",
        "sms",
        "sms.twilio",
        "sms.twilio.auth_token",
    ] {
        assert!(keys.contains(&key.to_string()), "{key}: {keys:#?}");
    }
    assert!(!keys.iter().any(|k| k.contains("free")), "{keys:#?}");
}

/// The keys the configuration reference (its "Reference" section) does not mention: a key
/// `a.b.c` is mentioned as `` `a.b.c` `` (a table also as `` `[a.b]` ``),
/// or as `` `c` `` in the row of its table (`` | `a.b` | `` or `` | `a` | ``).
fn undocumented(reference: &str) -> Vec<String> {
    let section: String = reference
        .split("\n## ")
        .find(|part| part.starts_with("Reference"))
        .unwrap_or_default()
        .to_string();
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
    let mentioned = |key: &str| {
        if section.contains(&format!("`{key}`")) || section.contains(&format!("`[{key}]`")) {
            return true;
        }
        let segments: Vec<&str> = key.split('.').collect();
        let last = segments.last().copied().unwrap_or(key);
        (1..segments.len()).any(|n| {
            let table = segments[..n].join(".");
            rows.iter().any(|row| {
                row.starts_with(&format!("| `{table}`")) && row.contains(&format!("`{last}`"))
            })
        })
    };
    all_keys()
        .into_iter()
        .filter(|key| key != "sections" && !mentioned(key))
        .collect()
}

#[test]
fn the_configuration_reference_lists_every_key() {
    let reference = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/src/configuration.md"
    ));
    let missing = undocumented(reference);
    assert!(
        missing.is_empty(),
        "docs/src/configuration.md's reference lacks: {}",
        missing.join(", ")
    );
}
