//! Backups' settings (`[backup]`): where snapshots go, how often `serve`
//! takes one, how long they are kept, and the key that encrypts the data
//! directory's secrets inside them. Read by the binary with the core's
//! keys (`LANDLORD_BACKUP__DESTINATION=s3://bucket/landlord`, …); this
//! crate reads them with `config.section::<BackupConfig>()`.

use landlord_core::config::{Config, ConfigError, Section};
use landlord_core::secret::Secret;
use serde::{Deserialize, Serialize};

/// `[backup]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where snapshots are written: a directory (`/var/backups/landlord`,
    /// `file:///var/backups/landlord`) or an S3-compatible bucket and
    /// prefix (`s3://bucket/landlord`). Empty: `serve` takes no scheduled
    /// snapshot and `landlord backup` needs `--to`.
    pub destination: String,
    /// Take a snapshot every this many seconds in `serve` (one instance
    /// at a time) when a destination is set.
    pub interval_secs: u64,
    /// This instance takes scheduled snapshots (any number may: one
    /// snapshot per interval however many do).
    pub schedule: bool,
    /// Keep every snapshot of the last this many hours…
    pub keep_all_hours: u64,
    /// …then the newest of each day for this many days.
    pub keep_daily_days: u64,
    /// A passphrase that encrypts the data directory's keys inside each
    /// snapshot (age, scrypt). Without it or `age_recipient`, a snapshot
    /// holds the database alone.
    pub passphrase: Option<Secret<String>>,
    /// An age recipient (`age1…`) that encrypts the data directory's keys
    /// inside each snapshot; restore with its identity file.
    pub age_recipient: Option<String>,
    /// The S3 endpoint, for S3-compatible services (MinIO, R2, …); empty:
    /// AWS. `AWS_ENDPOINT_URL` is read too.
    pub s3_endpoint: String,
    /// The bucket's region (`AWS_REGION` is read too).
    pub s3_region: String,
    /// Access key id (`AWS_ACCESS_KEY_ID` is read too).
    pub s3_access_key_id: Option<String>,
    /// Secret access key (`AWS_SECRET_ACCESS_KEY` is read too).
    pub s3_secret_access_key: Option<Secret<String>>,
    /// Allow an `http://` endpoint (a local S3 stand-in); off: HTTPS only.
    pub s3_allow_http: bool,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            destination: String::new(),
            interval_secs: 15 * 60,
            schedule: true,
            keep_all_hours: 24,
            keep_daily_days: 30,
            passphrase: None,
            age_recipient: None,
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
        }
    }
}

impl Section for BackupConfig {
    const KEY: &'static str = "backup";

    fn validate(&self, _core: &Config) -> Result<(), ConfigError> {
        BackupConfig::validate(self)
    }
}

impl BackupConfig {
    /// Checks the values, naming the setting that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs == 0 {
            return Err(ConfigError::new(
                "backup.interval_secs",
                "must be at least 1",
            ));
        }
        if !self.destination.is_empty() {
            crate::destination::Location::parse(&self.destination)
                .map_err(|reason| ConfigError::new("backup.destination", reason))?;
        }
        if let Some(passphrase) = &self.passphrase {
            if passphrase.expose_str().chars().count() < 12 {
                return Err(ConfigError::new(
                    "backup.passphrase",
                    "must be at least 12 characters",
                ));
            }
        }
        if let Some(recipient) = &self.age_recipient {
            if recipient.parse::<age::x25519::Recipient>().is_err() {
                return Err(ConfigError::new(
                    "backup.age_recipient",
                    "must be an age public key (age1…)",
                ));
            }
        }
        if self.passphrase.is_some() && self.age_recipient.is_some() {
            return Err(ConfigError::new(
                "backup.age_recipient",
                "set either backup.passphrase or backup.age_recipient, not both",
            ));
        }
        Ok(())
    }

    /// Whether `serve` takes snapshots on a schedule.
    pub fn scheduled(&self) -> bool {
        self.schedule && !self.destination.is_empty()
    }

    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.interval_secs)
    }
}
