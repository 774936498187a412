//! Configuration: defaults, then an optional TOML file, then environment
//! variables. Everything is validated before the server starts, and a bad
//! value stops the start with a message naming the setting and the reason.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::{Figment, Provider};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::plans::{default_catalog, Plan};
use crate::secret::Secret;

/// Name of the configuration file read from the working directory when no
/// `--config` path is given and the file exists.
pub const DEFAULT_CONFIG_FILE: &str = "landlord.toml";

/// A setting that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {setting}: {reason}")]
pub struct ConfigError {
    pub setting: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The core's configuration of one Landlord instance: the top-level keys.
///
/// Every field has a default, so an empty environment gives a working server
/// on an embedded SQLite file. The modules' tables are the modules' own
/// [`Section`]s: the binary reads them from the same sources and hands them
/// over in [`Config::sections`].
///
/// Unknown keys are refused by [`Config::from_figment_with_sections`] (the
/// struct itself lets the modules' tables through to their sections).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    pub listen: String,
    /// Directory for the SQLite database, generated secrets and local mail.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means a SQLite file in `data_dir`.
    pub database_url: Option<Secret<String>>,
    /// Most database connections kept open by this instance.
    pub database_max_connections: u32,
    /// PostgreSQL replicas (`postgres://…`) for reads that tolerate lag
    /// (lists, dashboards, exports); a list in TOML, comma-separated in the
    /// environment. Only with a PostgreSQL `database_url`.
    #[serde(deserialize_with = "secret_string_or_list")]
    pub database_read_url: Vec<Secret<String>>,
    /// A replica further behind the primary than this is skipped until it
    /// catches up, in milliseconds.
    pub database_read_max_lag_ms: u64,
    /// `redis://…`; when set, limits and caches are shared between instances.
    pub redis_url: Option<Secret<String>>,
    /// The URL clients reach this server at (used in links and security.txt).
    pub public_url: String,
    /// The customer dashboard that receives links from mails (verification,
    /// password reset, invitations); `public_url` when unset.
    pub app_url: Option<String>,
    /// Serve the web console (sign-up, sign-in, the organization's pages)
    /// at the root of `public_url`.
    pub console: bool,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `landlord=debug,sqlx=warn`.
    pub log_level: String,
    /// Base URL of an OTLP/HTTP collector (e.g. `http://127.0.0.1:4318`);
    /// when set (or `OTEL_EXPORTER_OTLP_ENDPOINT` is), request and job
    /// spans are exported to it. Unset: no traces, at no cost.
    pub otlp_endpoint: Option<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Time after which an unfinished request is answered with 503.
    pub request_timeout_secs: u64,
    /// Origins allowed by CORS (`*` for any); empty allows none.
    #[serde(deserialize_with = "string_or_list")]
    pub cors_allowed_origins: Vec<String>,
    /// Contact published in `/.well-known/security.txt`.
    pub security_contact: String,
    /// Key that signs access tokens; generated in `data_dir` when unset.
    pub token_signing_key: Option<Secret<String>>,
    /// Key that seals the secrets inside queued jobs (the one-time tokens
    /// of mail); generated in `data_dir` when unset. At least 32
    /// characters; every instance must share it.
    pub payload_encryption_key: Option<Secret<String>>,
    /// Lifetime of an access token (JWT), in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_ttl_days: u64,
    /// Take the client address from `X-Forwarded-For` (behind a proxy only).
    pub trust_forwarded_for: bool,
    /// With `trust_forwarded_for`: how many proxies of ours append to
    /// `X-Forwarded-For`; the client is the entry that many places from the
    /// right (the connection's peer being the nearest proxy).
    pub trusted_proxy_hops: u32,
    /// With `trust_forwarded_for`: our proxies' networks (CIDRs or single
    /// addresses). When set, `X-Forwarded-For` is walked from the right
    /// past these addresses instead of counting `trusted_proxy_hops`.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// Failed logins allowed per account within the window, from all
    /// addresses together (loose, so that guessing from many addresses
    /// cannot lock the owner out).
    pub login_max_failures_per_account: u32,
    /// Failed logins allowed per (account, client address) within the
    /// window (tight).
    pub login_max_failures_per_account_address: u32,
    /// Failed logins allowed per client address within the window.
    pub login_max_failures_per_ip: u32,
    /// Window over which failed logins are counted, in seconds.
    pub login_failure_window_secs: u64,
    /// SMTP server for mail; unset writes mail as files in `data_dir/mail`.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret<String>>,
    /// `starttls`, `tls` (implicit, usually port 465) or `none`.
    pub smtp_tls: SmtpTls,
    /// Sender of every mail, e.g. `Acme <no-reply@acme.test>`.
    pub mail_from: String,
    /// DKIM: the selector of the key published at
    /// `{dkim_selector}._domainkey.{dkim_domain}`. With `dkim_domain` and
    /// `dkim_private_key`, every mail is signed.
    pub dkim_selector: Option<String>,
    /// DKIM: the signing domain (`d=`), usually `mail_from`'s domain.
    pub dkim_domain: Option<String>,
    /// DKIM: the RSA private key, PEM (PKCS#1 or PKCS#8), or the path of a
    /// file holding it.
    pub dkim_private_key: Option<Secret<String>>,
    /// Mails handed to the SMTP server per second by each instance
    /// (the provider's sending rate); 0 for no limit.
    pub mail_max_per_second: u32,
    /// The shared secret of the bounce webhook (`POST /api/v1/mail/bounces`,
    /// sent as `X-Bounce-Secret` or a basic-auth password); unset, the
    /// webhook answers 404.
    pub mail_bounce_secret: Option<Secret<String>>,
    /// How often each instance looks for due background jobs, in ms.
    pub jobs_poll_interval_ms: u64,
    /// First retry delay of a failed job, doubled at each attempt, in ms.
    pub jobs_backoff_base_ms: u64,
    /// Attempts before a job is dead-lettered.
    pub jobs_max_attempts: u32,
    /// How long a running job (and a webhook delivery's attempt) is leased
    /// to its instance, in seconds; renewed every third of it while the work
    /// runs, so a dead instance's work is taken over within this time.
    pub jobs_lease_secs: u64,
    /// The plan catalog, by name (`[plans.NAME]` tables in TOML).
    pub plans: BTreeMap<String, Plan>,
    /// Plan of new organizations.
    pub default_plan: String,
    /// How often metered usage is written to the database, in ms.
    pub usage_flush_interval_ms: u64,
    /// Keep the raw request log (`usage_records`, one row per metered
    /// request) beside the hourly counters that billing, quotas and graphs
    /// read. Off: only the counters are written.
    pub usage_raw_log: bool,
    /// Days the raw request log is kept; the daily purge deletes older rows
    /// (the counters stay).
    pub usage_raw_log_retention_days: u32,
    /// How long an API key lookup is cached; a revoked key stops working on
    /// every instance within this time (it stops at once on the instance
    /// that revoked it).
    pub api_key_cache_ms: u64,
    /// Run the billing schedule on this instance (close each month on the
    /// 1st at 00:00 UTC, mark overdue cycles daily). Any number of instances
    /// may run it; each occurrence happens once.
    pub billing_schedule: bool,
    /// Days between the close of a billing period and the invoice's due date.
    pub invoice_due_days: u32,
    /// Emails of platform administrators (operators who reach `/admin`);
    /// `landlord make-admin` designates more.
    #[serde(deserialize_with = "string_or_list")]
    pub platform_admins: Vec<String>,
    /// Stripe's API base URL (tests point it at a stand-in).
    pub stripe_api_base: String,
    /// Stripe secret key (`sk_…`); unset: Stripe is not offered.
    pub stripe_secret_key: Option<Secret<String>>,
    /// Signing secret of the Stripe webhook endpoint (`whsec_…`).
    pub stripe_webhook_secret: Option<Secret<String>>,
    /// Paystack's API base URL.
    pub paystack_api_base: String,
    /// Paystack secret key; also the key of its webhook signatures.
    pub paystack_secret_key: Option<Secret<String>>,
    /// Requests per minute per client address on each sensitive route
    /// (sign-in, registration, account recovery, invitations).
    pub sensitive_rate_limit_per_minute: u32,
    /// Password hashes or checks (argon2, 19 MiB each) running at once in
    /// this process; unset: the number of CPUs.
    pub password_hashing_concurrency: Option<u32>,
    /// Password hashes or checks allowed to wait for a slot; beyond, 503.
    /// Unset: twice the concurrency.
    pub password_hashing_queue: Option<u32>,
    /// Requests per minute per account on the routes that hash a password
    /// for a known account (change-password, reset-password, register,
    /// accept-invitation).
    pub password_rate_limit_per_account_per_minute: u32,
    /// Requests per minute per client address that present an unknown,
    /// malformed, expired or revoked API key; beyond, 429.
    pub invalid_api_key_per_minute: u32,
    /// When set, `/metrics` requires `Authorization: Bearer <metrics_token>`.
    pub metrics_token: Option<Secret<String>>,
    /// When set, `/metrics` is served on this address only (not on `listen`).
    pub metrics_listen: Option<String>,
    /// Invitations an organization may send per hour (`POST /team/invite`).
    pub invitations_per_organization_per_hour: u32,
    /// Mails of each kind (invitation, email verification, password reset)
    /// one address may be sent per day, whoever asks.
    pub mails_per_recipient_per_day: u32,
    /// Mounts `/__test/*` routes used by the test-suite. Never in production.
    pub enable_test_routes: bool,
    /// The modules' settings, each module's table as its own type; not
    /// read from the sources by the core (see [`Section`]).
    #[serde(skip)]
    pub sections: Sections,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 10,
            database_read_url: Vec::new(),
            database_read_max_lag_ms: 5000,
            redis_url: None,
            public_url: "http://127.0.0.1:8080".into(),
            app_url: None,
            console: true,
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            otlp_endpoint: None,
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            cors_allowed_origins: Vec::new(),
            security_contact: "mailto:security@example.com".into(),
            token_signing_key: None,
            payload_encryption_key: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            trusted_proxies: Vec::new(),
            login_max_failures_per_account: 100,
            login_max_failures_per_account_address: 5,
            login_max_failures_per_ip: 20,
            login_failure_window_secs: 15 * 60,
            smtp_host: None,
            smtp_port: 587,
            smtp_username: None,
            smtp_password: None,
            smtp_tls: SmtpTls::Starttls,
            mail_from: "Landlord <no-reply@localhost>".into(),
            dkim_selector: None,
            dkim_domain: None,
            dkim_private_key: None,
            mail_max_per_second: 0,
            mail_bounce_secret: None,
            jobs_poll_interval_ms: 1000,
            jobs_backoff_base_ms: 2000,
            jobs_max_attempts: 8,
            jobs_lease_secs: 30,
            plans: default_catalog(),
            default_plan: "free".into(),
            usage_flush_interval_ms: 1000,
            usage_raw_log: true,
            usage_raw_log_retention_days: 30,
            api_key_cache_ms: 1000,
            billing_schedule: true,
            invoice_due_days: 14,
            platform_admins: Vec::new(),
            stripe_api_base: "https://api.stripe.com".into(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            paystack_api_base: "https://api.paystack.co".into(),
            paystack_secret_key: None,
            sensitive_rate_limit_per_minute: 10,
            password_hashing_concurrency: None,
            password_hashing_queue: None,
            password_rate_limit_per_account_per_minute: 10,
            invalid_api_key_per_minute: 30,
            metrics_token: None,
            metrics_listen: None,
            invitations_per_organization_per_hour: 50,
            mails_per_recipient_per_day: 10,
            enable_test_routes: false,
            sections: Sections::default(),
        }
    }
}

/// Merges the sources in order: `defaults`, then `file` (or
/// `landlord.toml` in the working directory when it exists), then the
/// environment: `DATABASE_URL`, `REDIS_URL`, and `LANDLORD_KEY` for every
/// key, `__` separating a table from its key
/// (`LANDLORD_SMS__TWILIO__ACCOUNT_SID`, `LANDLORD_PLANS__PRO__PRICE`).
pub fn sources(defaults: impl Provider, file: Option<&Path>) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(defaults);
    match file {
        Some(path) if !path.exists() => {
            return Err(ConfigError::new(
                "--config",
                format!("file {} does not exist", path.display()),
            ))
        }
        Some(path) => figment = figment.merge(Toml::file_exact(path)),
        None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
            figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE))
        }
        None => {}
    }
    Ok(figment
        // The two URLs keep their conventional, unprefixed names.
        .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
        // `LANDLORD_SECTION__KEY` reaches a table's key (`[sms.twilio]`
        // `account_sid`: `LANDLORD_SMS__TWILIO__ACCOUNT_SID`); no
        // top-level setting has a double underscore.
        .merge(Env::prefixed("LANDLORD_").ignore(&["CONFIG"]).split("__")))
}

/// The environment variable that sets the key at `path` (`sms.twilio.from`:
/// `LANDLORD_SMS__TWILIO__FROM`).
pub fn env_variable(path: &str) -> String {
    format!("LANDLORD_{}", path.to_ascii_uppercase().replace('.', "__"))
}

/// Where the value at `path` of `figment` (built by [`sources`]) came
/// from: `default`, `file PATH`, or `env VARIABLE`.
pub fn source_of(figment: &Figment, path: &str) -> String {
    let Some(metadata) = figment.find_metadata(path) else {
        return "default".into();
    };
    if let Some(figment::Source::File(file)) = &metadata.source {
        return format!("file {}", file.display());
    }
    let name: &str = &metadata.name;
    if name.starts_with("`LANDLORD_`") {
        return format!("env {}", env_variable(path));
    }
    if name == "environment variable(s)" {
        return format!("env {}", path.to_ascii_uppercase());
    }
    if figment.metadata().next() == Some(metadata) {
        return "default".into();
    }
    name.to_string()
}

/// The dotted path of every key under `value` (a table's path before its
/// keys), in order; a list is one key.
pub fn key_paths(value: &figment::value::Value) -> Vec<String> {
    fn walk(prefix: &str, value: &figment::value::Value, out: &mut Vec<String>) {
        if let figment::value::Value::Dict(_, dict) = value {
            for (key, value) in dict {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.push(path.clone());
                walk(&path, value, out);
            }
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// A module's settings: one table of the configuration (`[NAME]`), read
/// from the same sources as the core's keys. The module's
/// crate defines it; the binary reads it ([`read_section`]) and hands it
/// over in [`Config::sections`].
pub trait Section:
    fmt::Debug + Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The table's key at the top level of the configuration.
    const KEY: &'static str;

    /// Checks what deserialization alone cannot; `core` is the rest of the
    /// configuration (a setting per plan names plans of the catalog).
    fn validate(&self, core: &Config) -> Result<(), ConfigError>;
}

/// Reads the section `T` from its table of `figment` (its defaults for
/// keys the sources leave out); an error names the setting as for the
/// core's keys. Not validated: see [`Section::validate`].
pub fn read_section<T: Section>(figment: &Figment) -> Result<T, ConfigError> {
    match figment.find_value(T::KEY) {
        Err(_) => Ok(T::default()),
        Ok(figment::value::Value::Dict(..)) => {
            figment.focus(T::KEY).extract().map_err(figment_error)
        }
        Ok(_) => Err(ConfigError::new(T::KEY, "must be a table")),
    }
}

/// The modules' sections an instance runs with, one per type.
#[derive(Clone, Default)]
pub struct Sections(HashMap<TypeId, Arc<dyn AnySection>>);

/// A section behind `dyn`: printable, and downcast back to its type.
trait AnySection: fmt::Debug + Send + Sync {
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

impl<T: Section> AnySection for T {
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

impl Sections {
    pub fn insert<T: Section>(&mut self, section: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(section));
    }

    pub fn get<T: Section>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|section| section.as_any().downcast_ref::<T>())
    }
}

/// The defaults of section `T`, made once per type for the process.
fn default_section<T: Section>() -> &'static T {
    type Defaults = Mutex<HashMap<TypeId, &'static (dyn Any + Send + Sync)>>;
    static DEFAULTS: OnceLock<Defaults> = OnceLock::new();
    let mut defaults = DEFAULTS
        .get_or_init(Defaults::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let default: &'static (dyn Any + Send + Sync) = *defaults
        .entry(TypeId::of::<T>())
        .or_insert_with(|| Box::leak(Box::new(T::default())));
    match default.downcast_ref::<T>() {
        Some(default) => default,
        // Unreachable: the entry of `T`'s id holds a `T`.
        None => Box::leak(Box::new(T::default())),
    }
}

impl fmt::Debug for Sections {
    /// Each section's own `Debug` (their secrets print `[redacted]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.values()).finish()
    }
}

/// Refuses a top-level key that is neither one of the core's nor one of
/// `sections`, naming it and the source that gave it.
fn refuse_unknown_keys(figment: &Figment, sections: &[&str]) -> Result<(), ConfigError> {
    let known = core_keys();
    let given: figment::value::Dict = figment.extract().map_err(figment_error)?;
    for key in given.keys() {
        if !known.contains(key) && !sections.contains(&key.as_str()) {
            let source = figment
                .find_metadata(key)
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            return Err(ConfigError::new(
                key.clone(),
                format!("unknown setting{source}"),
            ));
        }
    }
    Ok(())
}

/// The core's top-level keys, as its defaults serialize (unset options
/// included).
pub fn core_keys() -> Vec<String> {
    match figment::value::Value::serialize(Config::default()) {
        Ok(figment::value::Value::Dict(_, dict)) => dict.into_keys().collect(),
        _ => Vec::new(),
    }
}

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl Config {
    /// Builds the core's configuration from already-merged providers, no
    /// module table allowed (the core's tests; the binary reads the whole
    /// configuration with its `Settings`).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        Self::from_figment_with_sections(&figment, &[])
    }

    /// Reads the core's keys from `figment` and validates them; besides
    /// them, only the tables named in `sections` (the modules') may appear
    /// at the top level: any other key is refused, named.
    pub fn from_figment_with_sections(
        figment: &Figment,
        sections: &[&str],
    ) -> Result<Self, ConfigError> {
        let config = Self::extract_with_sections(figment, sections)?;
        config.validate()?;
        Ok(config)
    }

    /// As [`Config::from_figment_with_sections`], without
    /// [`Config::validate`] (the binary validates once every section is
    /// read, as deserialization comes before validation).
    pub fn extract_with_sections(
        figment: &Figment,
        sections: &[&str],
    ) -> Result<Self, ConfigError> {
        refuse_unknown_keys(figment, sections)?;
        figment.extract().map_err(figment_error)
    }

    /// The module's section `T`, as the binary handed it over; its
    /// defaults when none was (a configuration built in a unit test).
    pub fn section<T: Section>(&self) -> &T {
        match self.sections.get::<T>() {
            Some(section) => section,
            None => default_section::<T>(),
        }
    }

    /// This configuration carrying `section` (replacing any of its type).
    pub fn with_section<T: Section>(mut self, section: T) -> Self {
        self.sections.insert(section);
        self
    }

    /// Checks every value that deserialization alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }
        self.database_kind()?;
        if !self.database_read_url.is_empty() {
            if self.database_kind()? != DatabaseKind::Postgres {
                return Err(ConfigError::new(
                    "database_read_url",
                    "replicas need a PostgreSQL database_url",
                ));
            }
            for url in self.database_read_url.iter().map(Secret::expose_str) {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(ConfigError::new(
                        "database_read_url",
                        "each must start with postgres:// or postgresql://",
                    ));
                }
            }
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::new(
                "database_max_connections",
                "must be at least 1",
            ));
        }
        if let Some(url) = self.redis_url.as_ref().map(Secret::expose_str) {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError::new(
                    "redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "public_url",
                "must start with http:// or https://",
            ));
        }
        if let Some(url) = self.app_url.as_deref() {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "app_url",
                    "must start with http:// or https://",
                ));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ConfigError::new("log_level", format!("not a valid filter: {e}")))?;
        if self.body_limit_bytes == 0 {
            return Err(ConfigError::new("body_limit_bytes", "must be at least 1"));
        }
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::new(
                "request_timeout_secs",
                "must be at least 1",
            ));
        }
        for origin in &self.cors_allowed_origins {
            validate_origin(origin)?;
        }
        if self.security_contact.trim().is_empty() {
            return Err(ConfigError::new("security_contact", "must not be empty"));
        }
        for (setting, key) in [
            ("token_signing_key", &self.token_signing_key),
            ("payload_encryption_key", &self.payload_encryption_key),
        ] {
            if key.as_ref().is_some_and(|k| k.expose_str().len() < 32) {
                return Err(ConfigError::new(
                    setting,
                    "must be at least 32 characters long",
                ));
            }
        }
        for (setting, value) in [
            ("access_token_ttl_secs", self.access_token_ttl_secs),
            ("refresh_token_ttl_days", self.refresh_token_ttl_days),
            ("login_failure_window_secs", self.login_failure_window_secs),
            ("jobs_poll_interval_ms", self.jobs_poll_interval_ms),
            ("jobs_backoff_base_ms", self.jobs_backoff_base_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::new(setting, "must be at least 1"));
            }
        }
        for (setting, value) in [
            (
                "login_max_failures_per_account",
                self.login_max_failures_per_account,
            ),
            ("login_max_failures_per_ip", self.login_max_failures_per_ip),
            (
                "login_max_failures_per_account_address",
                self.login_max_failures_per_account_address,
            ),
            ("jobs_max_attempts", self.jobs_max_attempts),
            ("trusted_proxy_hops", self.trusted_proxy_hops),
            (
                "password_rate_limit_per_account_per_minute",
                self.password_rate_limit_per_account_per_minute,
            ),
            (
                "invalid_api_key_per_minute",
                self.invalid_api_key_per_minute,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::new(setting, "must be at least 1"));
            }
        }
        // A lease renewed every third of itself: a second is the shortest
        // that leaves room for a renewal's round trip; an hour the longest a
        // dead instance may keep its work.
        if !(1..=3600).contains(&self.jobs_lease_secs) {
            return Err(ConfigError::new(
                "jobs_lease_secs",
                "must be between 1 and 3600",
            ));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "mail_from",
                "must be an address such as `Acme <no-reply@acme.test>`",
            ));
        }
        self.validate_plans()?;
        self.trusted_proxy_networks()?;
        if self.password_hashing_concurrency == Some(0) {
            return Err(ConfigError::new(
                "password_hashing_concurrency",
                "must be at least 1 (or unset for the number of CPUs)",
            ));
        }
        if let Some(token) = self.metrics_token.as_ref().map(Secret::expose_str) {
            if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::new(
                    "metrics_token",
                    "must be at least 16 characters without spaces",
                ));
            }
        }
        self.metrics_listen_addr()?;
        if self
            .smtp_host
            .as_deref()
            .is_some_and(|h| h.trim().is_empty())
        {
            return Err(ConfigError::new("smtp_host", "must not be empty when set"));
        }
        let dkim = [
            self.dkim_selector.is_some(),
            self.dkim_domain.is_some(),
            self.dkim_private_key.is_some(),
        ];
        if dkim.iter().any(|set| *set) && !dkim.iter().all(|set| *set) {
            return Err(ConfigError::new(
                "dkim_private_key",
                "DKIM needs dkim_selector, dkim_domain and dkim_private_key together",
            ));
        }
        Ok(())
    }

    fn validate_plans(&self) -> Result<(), ConfigError> {
        if self.plans.is_empty() {
            return Err(ConfigError::new(
                "plans",
                "the catalog needs at least one plan",
            ));
        }
        for (name, plan) in &self.plans {
            let setting = format!("plans.{name}");
            if plan.price < 0 || plan.overage_price.is_some_and(|p| p < 0) {
                return Err(ConfigError::new(setting, "prices cannot be negative"));
            }
            if plan.included_requests.is_some_and(|n| n < 0) {
                return Err(ConfigError::new(
                    setting,
                    "included_requests cannot be negative",
                ));
            }
            if plan.rate_limit_per_minute == 0 {
                return Err(ConfigError::new(
                    setting,
                    "rate_limit_per_minute must be at least 1",
                ));
            }
            if plan.currency.len() != 3 || !plan.currency.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(ConfigError::new(
                    setting,
                    "currency must be an ISO 4217 code such as USD",
                ));
            }
            if plan.overage_price.is_some() && plan.included_requests.is_none() {
                return Err(ConfigError::new(
                    setting,
                    "overage_price needs included_requests",
                ));
            }
        }
        if !self.plans.contains_key(&self.default_plan) {
            return Err(ConfigError::new(
                "default_plan",
                format!("'{}' is not in the plan catalog", self.default_plan),
            ));
        }
        for (setting, value) in [
            (
                "invitations_per_organization_per_hour",
                self.invitations_per_organization_per_hour,
            ),
            (
                "mails_per_recipient_per_day",
                self.mails_per_recipient_per_day,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::new(setting, "must be at least 1"));
            }
        }
        if self.sensitive_rate_limit_per_minute == 0 {
            return Err(ConfigError::new(
                "sensitive_rate_limit_per_minute",
                "must be at least 1",
            ));
        }
        if self.usage_flush_interval_ms == 0 {
            return Err(ConfigError::new(
                "usage_flush_interval_ms",
                "must be at least 1",
            ));
        }
        if self.usage_raw_log_retention_days == 0 {
            return Err(ConfigError::new(
                "usage_raw_log_retention_days",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The plan called `name`, if the catalog has it.
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.get(name)
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::new(
                "listen",
                format!(
                    "'{}' is not an address and port such as 127.0.0.1:8080",
                    self.listen
                ),
            )
        })
    }

    /// `trusted_proxies` parsed as networks.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                crate::http::client::parse_trusted_proxy(entry).ok_or_else(|| {
                    ConfigError::new(
                        "trusted_proxies",
                        format!("'{entry}' is not a network such as 10.0.0.0/8 or an address"),
                    )
                })
            })
            .collect()
    }

    /// The separate metrics address, when `metrics_listen` is set.
    pub fn metrics_listen_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.metrics_listen
            .as_deref()
            .map(|addr| {
                addr.parse().map_err(|_| {
                    ConfigError::new(
                        "metrics_listen",
                        format!("'{addr}' is not an address and port such as 127.0.0.1:9100"),
                    )
                })
            })
            .transpose()
    }

    /// Argon2 work allowed at once: `password_hashing_concurrency`, or the
    /// number of CPUs.
    pub fn password_hashing_slots(&self) -> usize {
        self.password_hashing_concurrency
            .map(|n| n as usize)
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            })
            .max(1)
    }

    /// Argon2 work allowed to wait: `password_hashing_queue`, or twice the
    /// concurrency.
    pub fn password_hashing_waiting(&self) -> usize {
        self.password_hashing_queue
            .map(|n| n as usize)
            .unwrap_or_else(|| 2 * self.password_hashing_slots())
    }

    pub fn database_kind(&self) -> Result<DatabaseKind, ConfigError> {
        match self.database_url.as_ref().map(Secret::expose_str) {
            None => Ok(DatabaseKind::Sqlite),
            Some(url) if url.starts_with("sqlite:") => Ok(DatabaseKind::Sqlite),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseKind::Postgres)
            }
            Some(_) => Err(ConfigError::new(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            )),
        }
    }

    /// The database URL to connect to: the configured one, or a SQLite file
    /// in the data directory.
    pub fn effective_database_url(&self) -> String {
        match self.database_url.as_ref().map(Secret::expose_str) {
            Some(url) => url.to_string(),
            None => {
                let file = self.data_dir.join("landlord.db");
                format!("sqlite://{}?mode=rwc", file.display())
            }
        }
    }

    /// Base of the links put in mails, without a trailing slash.
    pub fn app_url(&self) -> &str {
        self.app_url
            .as_deref()
            .unwrap_or(&self.public_url)
            .trim_end_matches('/')
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Whether this server is being tried on one machine: its `public_url`
    /// is a loopback address (`localhost`, `127.0.0.0/8`, `[::1]`), as on
    /// a fresh start. Then, without a mail server or an SMS provider,
    /// messages are written to files and marked `simulated`; a server
    /// others reach (any other `public_url`) refuses to take what it
    /// cannot deliver.
    pub fn is_development(&self) -> bool {
        url_host(&self.public_url).is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host.to_ascii_lowercase().ends_with(".localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    }
}

/// The host of an `http(s)://` URL (an IPv6 address keeps its brackets).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.find(']').map(|end| &host_port[..=end]);
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

fn validate_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Ok(());
    }
    let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
        && !origin.ends_with('/')
        && axum::http::HeaderValue::from_str(origin).is_ok();
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "cors_allowed_origins",
            format!("'{origin}' is not an origin such as https://app.example.com (no path, no trailing slash)"),
        ))
    }
}

/// Turns figment's error into one naming the setting.
fn figment_error(error: figment::Error) -> ConfigError {
    let setting = error
        .path
        .last()
        .cloned()
        .unwrap_or_else(|| "configuration".to_string());
    let source = error
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    let reason = match &error.kind {
        figment::error::Kind::UnknownField(field, _) => {
            return ConfigError::new(field.clone(), format!("unknown setting{source}"))
        }
        kind => format!("{kind}{source}"),
    };
    ConfigError::new(setting, reason)
}

/// Accepts `["a", "b"]` in TOML and `a,b` in an environment variable.
fn string_or_list<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrList {
        One(String),
        Many(Vec<String>),
    }
    Ok(match StringOrList::deserialize(deserializer)? {
        StringOrList::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        StringOrList::Many(v) => v,
    })
}

/// [`string_or_list`] for secrets (URLs that carry passwords).
fn secret_string_or_list<'de, D>(deserializer: D) -> Result<Vec<Secret<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(string_or_list(deserializer)?
        .into_iter()
        .map(Secret::new)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        for (key, value) in pairs {
            figment = figment.merge(Toml::string(&format!("{key} = {value}")));
        }
        Config::from_figment(figment)
    }

    #[test]
    fn defaults_are_valid_and_use_sqlite_in_the_data_dir() {
        let config = with(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_kind().unwrap(), DatabaseKind::Sqlite);
        assert!(config
            .effective_database_url()
            .starts_with("sqlite://./data/landlord.db"));
        assert_eq!(config.body_limit_bytes, 1_048_576);
    }

    #[test]
    fn the_job_lease_is_short_by_default_and_checked() {
        assert_eq!(with(&[]).unwrap().jobs_lease_secs, 30);
        assert_eq!(
            with(&[("jobs_lease_secs", "5")]).unwrap().jobs_lease_secs,
            5
        );
        for bad in ["0", "3601"] {
            assert_eq!(
                with(&[("jobs_lease_secs", bad)]).unwrap_err().setting,
                "jobs_lease_secs"
            );
        }
    }

    #[test]
    fn a_bad_listen_address_names_the_setting() {
        let err = with(&[("listen", "\"localhost\"")]).unwrap_err();
        assert_eq!(err.setting, "listen");
        assert!(err.reason.contains("localhost"));
    }

    #[test]
    fn a_wrong_type_names_the_setting() {
        let err = with(&[("body_limit_bytes", "\"big\"")]).unwrap_err();
        assert_eq!(err.setting, "body_limit_bytes");
    }

    #[test]
    fn an_unknown_setting_is_refused() {
        let err = with(&[("lisen", "\"127.0.0.1:1\"")]).unwrap_err();
        assert_eq!(err.setting, "lisen");
    }

    #[test]
    fn database_urls_select_the_backend() {
        let pg = with(&[("database_url", "\"postgres://u@localhost/db\"")]).unwrap();
        assert_eq!(pg.database_kind().unwrap(), DatabaseKind::Postgres);
        let err = with(&[("database_url", "\"mysql://localhost\"")]).unwrap_err();
        assert_eq!(err.setting, "database_url");
    }

    #[test]
    fn read_replicas_need_postgres_and_read_a_list_or_a_comma_separated_string() {
        let err = with(&[("database_read_url", "\"postgres://u@r1/db\"")]).unwrap_err();
        assert_eq!(err.setting, "database_read_url");
        let primary = ("database_url", "\"postgres://u@p/db\"");
        let config = with(&[
            primary,
            (
                "database_read_url",
                "\"postgres://u@r1/db, postgres://u@r2/db\"",
            ),
        ])
        .unwrap();
        let urls: Vec<&str> = config
            .database_read_url
            .iter()
            .map(Secret::expose_str)
            .collect();
        assert_eq!(urls, ["postgres://u@r1/db", "postgres://u@r2/db"]);
        let config = with(&[primary, ("database_read_url", "[\"postgres://u@r1/db\"]")]).unwrap();
        assert_eq!(config.database_read_url.len(), 1);
        let err = with(&[primary, ("database_read_url", "\"mysql://r1\"")]).unwrap_err();
        assert_eq!(err.setting, "database_read_url");
        assert!(!format!("{config:?}").contains("u@r1"));
    }

    #[test]
    fn cors_origins_accept_a_comma_separated_string() {
        let config = with(&[(
            "cors_allowed_origins",
            "\"https://a.example, https://b.example\"",
        )])
        .unwrap();
        assert_eq!(
            config.cors_allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        let err = with(&[("cors_allowed_origins", "[\"https://a.example/\"]")]).unwrap_err();
        assert_eq!(err.setting, "cors_allowed_origins");
    }

    #[test]
    fn log_settings_are_checked() {
        assert_eq!(
            with(&[("log_format", "\"xml\"")]).unwrap_err().setting,
            "log_format"
        );
        assert_eq!(
            with(&[("log_level", "\"info,[[\"")]).unwrap_err().setting,
            "log_level"
        );
    }

    #[test]
    fn a_plan_can_be_added_in_configuration() {
        let config = with(&[(
            "plans.enterprise",
            "{ price = 50000, currency = \"USD\", rate_limit_per_minute = 3000 }",
        )])
        .unwrap();
        assert_eq!(config.plans.len(), 4, "defaults kept");
        assert_eq!(config.plans["enterprise"].included_requests, None);
        let err = with(&[(
            "plans.broken",
            "{ price = -1, currency = \"USD\", rate_limit_per_minute = 1 }",
        )])
        .unwrap_err();
        assert_eq!(err.setting, "plans.broken");
        assert_eq!(
            with(&[("default_plan", "\"gold\"")]).unwrap_err().setting,
            "default_plan"
        );
    }

    #[test]
    fn proxy_metrics_and_hashing_settings_are_checked() {
        let config = with(&[("trusted_proxies", "\"10.0.0.0/8, 192.168.1.1\"")]).unwrap();
        assert_eq!(config.trusted_proxy_networks().unwrap().len(), 2);
        for (setting, value) in [
            ("trusted_proxies", "[\"10.0.0.0/99\"]"),
            ("trusted_proxy_hops", "0"),
            ("metrics_token", "\"short\""),
            ("metrics_listen", "\"metrics\""),
            ("password_hashing_concurrency", "0"),
            ("invalid_api_key_per_minute", "0"),
            ("login_max_failures_per_account_address", "0"),
        ] {
            assert_eq!(with(&[(setting, value)]).unwrap_err().setting, setting);
        }
        let config = with(&[("password_hashing_concurrency", "3")]).unwrap();
        assert_eq!(config.password_hashing_slots(), 3);
        assert_eq!(config.password_hashing_waiting(), 6);
        assert!(with(&[]).unwrap().password_hashing_slots() >= 1);
    }

    #[test]
    fn short_signing_keys_are_refused() {
        let err = with(&[("token_signing_key", "\"short\"")]).unwrap_err();
        assert_eq!(err.setting, "token_signing_key");
    }

    #[test]
    fn mail_limits_default_and_are_checked() {
        let config = with(&[]).unwrap();
        assert_eq!(config.invitations_per_organization_per_hour, 50);
        assert_eq!(config.mails_per_recipient_per_day, 10);
        for setting in [
            "invitations_per_organization_per_hour",
            "mails_per_recipient_per_day",
        ] {
            let error = with(&[(setting, "0")]).unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let secrets = [
            (
                "token_signing_key",
                "signing-0123456789abcdef0123456789abcdef",
            ),
            (
                "payload_encryption_key",
                "payload-0123456789abcdef0123456789abcdef",
            ),
            ("smtp_password", "smtp-password-value-42"),
            ("stripe_secret_key", "sk_test_stripe_secret_value"),
            ("stripe_webhook_secret", "whsec_stripe_webhook_value"),
            ("mail_bounce_secret", "mail-bounce-secret-value-77"),
            ("paystack_secret_key", "sk_test_paystack_secret_value"),
            // Connection strings carry passwords.
            (
                "database_url",
                "postgres://landlord:db-password-value@db.internal/landlord",
            ),
            (
                "redis_url",
                "redis://:redis-password-value@cache.internal:6379",
            ),
            ("metrics_token", "metrics-token-value-0123456789"),
        ];
        let pairs: Vec<(&str, String)> = secrets
            .iter()
            .map(|(k, v)| (*k, format!("\"{v}\"")))
            .collect();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = with(&pairs).unwrap();
        assert_eq!(
            config.smtp_password.as_ref().map(|s| s.expose_str()),
            Some("smtp-password-value-42"),
            "the values are read"
        );
        let printed = format!("{config:?} {config:#?}");
        for (setting, value) in secrets {
            assert!(!printed.contains(value), "{setting} printed: {printed}");
        }
        assert!(printed.contains("[redacted]"));
        // From the environment too.
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(("stripe_secret_key", "sk_env_secret_value_1234"));
        let config = Config::from_figment(figment).unwrap();
        assert!(!format!("{config:?}").contains("sk_env_secret_value_1234"));
    }

    #[test]
    fn development_is_a_loopback_public_url() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:3000/",
            "https://app.localhost",
            "http://[::1]:8080/x",
            "http://user@127.0.0.2",
        ] {
            let config = Config {
                public_url: url.into(),
                ..Config::default()
            };
            assert!(config.is_development(), "{url}");
        }
        for url in [
            "https://api.example.com",
            "http://10.0.0.5:8080",
            "https://localhost.example.com",
            "http://[2001:db8::1]:80",
        ] {
            let config = Config {
                public_url: url.into(),
                ..Config::default()
            };
            assert!(!config.is_development(), "{url}");
        }
    }

    #[test]
    fn a_short_payload_key_is_refused() {
        let err = with(&[("payload_encryption_key", "\"short\"")]).unwrap_err();
        assert_eq!(err.setting, "payload_encryption_key");
    }
}
