//! The data directory's keys inside a snapshot. The token signing key
//! and the payload encryption key (`data_dir/secrets/`) decide whether
//! access tokens and sealed secrets survive a restore; a snapshot carries
//! them only encrypted, with `backup.passphrase` (age, scrypt) or to
//! `backup.age_recipient` (age, X25519).
//!
//! Inside the snapshot the keys are one age file (`keys.age`) whose
//! plaintext is a JSON object, key file name → value. Restoring them is
//! all or nothing: [`install_checked`] stages every file before it puts
//! any in place, and [`InstalledKeys::undo`] puts the directory back as it
//! was when the database cannot follow. A key the target directory already
//! holds with a different value is replaced only when the restore is
//! forced, and then kept beside as `NAME.before-restore-…`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use landlord_core::Timestamp;

use crate::config::BackupConfig;
use crate::error::BackupError;
use crate::manifest::KeysIncluded;

/// What a restore without the data directory's keys loses, in words (said
/// by `backup` when a snapshot holds the database alone, and by `restore`
/// when the keys are not restored).
pub const LOST_WITHOUT_KEYS: &str = "Without the data directory's keys a restored server \
    generates new ones. A new token signing key refuses every access token issued before \
    (API clients sign in again or renew with their refresh token; console sessions carry on) \
    and each form left open in a browser once. A new payload encryption key cannot read what \
    the old one sealed: outgoing webhook endpoints' signing secrets, WhatsApp channels' access \
    tokens and app secrets, apps' gateway secrets and ID-token signing keys, people's sign-ins \
    to apps through the gateway, and queued jobs' sealed payloads (mail with links) — those \
    must be rotated or entered again. Keys set in the configuration (token_signing_key, \
    payload_encryption_key) are never in the data directory: set the same values on the \
    restored server and nothing is lost for them.";

/// The data directory's key files, by name.
pub const KEY_FILES: [&str; 2] = ["token_signing_key", "payload_encryption_key"];

/// Shorter values are not keys: the server generates a new key over them.
const MIN_KEY_LEN: usize = 32;

/// Which keys the configuration sets (the server then uses the configured
/// value and never the data directory's file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfiguredKeys {
    pub token_signing_key: bool,
    pub payload_encryption_key: bool,
}

impl ConfiguredKeys {
    pub fn of(config: &landlord_core::Config) -> Self {
        Self {
            token_signing_key: config.token_signing_key.is_some(),
            payload_encryption_key: config.payload_encryption_key.is_some(),
        }
    }

    pub fn all(self) -> bool {
        self.token_signing_key && self.payload_encryption_key
    }

    /// The names of the configured keys.
    pub fn names(self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.token_signing_key {
            names.push(KEY_FILES[0]);
        }
        if self.payload_encryption_key {
            names.push(KEY_FILES[1]);
        }
        names
    }
}

/// What `landlord backup` says about the keys of the snapshot it took.
pub fn backup_note(
    included: KeysIncluded,
    config: &BackupConfig,
    configured: ConfiguredKeys,
) -> String {
    let configured_words = configured_words(configured);
    match included {
        KeysIncluded::Passphrase | KeysIncluded::AgeRecipient => {
            let how = if included == KeysIncluded::Passphrase {
                "encrypted with backup.passphrase: keep the passphrase apart from the snapshots, \
                 a restore needs it"
            } else {
                "encrypted to backup.age_recipient: keep its identity file apart from the \
                 snapshots, a restore needs it (--identity FILE)"
            };
            let mut note = format!("the data directory's keys are in this snapshot, {how}.");
            if let Some(words) = configured_words {
                note.push(' ');
                note.push_str(&words);
            }
            note
        }
        KeysIncluded::None if configured.all() => format!(
            "this snapshot holds the database alone and needs no key: {}",
            configured_words.unwrap_or_default()
        ),
        KeysIncluded::None => {
            let why = if config.passphrase.is_some() || config.age_recipient.is_some() {
                "the data directory holds no key file to include"
            } else {
                "no backup.passphrase or backup.age_recipient is set to encrypt the keys with"
            };
            format!("this snapshot holds the database alone ({why}). {LOST_WITHOUT_KEYS}")
        }
    }
}

fn configured_words(configured: ConfiguredKeys) -> Option<String> {
    match configured.names().as_slice() {
        [] => None,
        [one] => Some(format!(
            "{one} is set in the configuration, not kept in the data directory nor in \
             snapshots: a restored server needs the same value (keep it safe apart from the \
             snapshots)."
        )),
        _ => Some(
            "token_signing_key and payload_encryption_key are set in the configuration, not \
             kept in the data directory nor in snapshots: a server restored with the same \
             values keeps access tokens and sealed secrets (keep them safe apart from the \
             snapshots)."
                .into(),
        ),
    }
}

/// The keys of `data_dir` encrypted as configured, or `None` when no
/// passphrase or recipient is set (or the data directory holds no key).
pub fn seal(
    config: &BackupConfig,
    data_dir: &Path,
) -> Result<(KeysIncluded, Option<Vec<u8>>), BackupError> {
    if config.passphrase.is_none() && config.age_recipient.is_none() {
        return Ok((KeysIncluded::None, None));
    }
    let keys = read_keys(data_dir)?;
    if keys.is_empty() {
        return Ok((KeysIncluded::None, None));
    }
    let plaintext = serde_json::to_vec(&keys)
        .map_err(|error| BackupError::Keys(format!("cannot serialize them: {error}")))?;
    let (included, sealed) = if let Some(passphrase) = &config.passphrase {
        let recipient =
            age::scrypt::Recipient::new(SecretString::from(passphrase.expose_str().to_string()));
        (
            KeysIncluded::Passphrase,
            age::encrypt(&recipient, &plaintext),
        )
    } else {
        let text = config.age_recipient.as_deref().unwrap_or_default();
        let recipient: age::x25519::Recipient = text.trim().parse().map_err(|_| {
            BackupError::Keys("backup.age_recipient is not an age public key (age1…)".into())
        })?;
        (
            KeysIncluded::AgeRecipient,
            age::encrypt(&recipient, &plaintext),
        )
    };
    let sealed = sealed.map_err(|error| BackupError::Keys(format!("age: {error}")))?;
    Ok((included, Some(sealed)))
}

/// The key files of `data_dir/secrets/` that hold a key, by name.
fn read_keys(data_dir: &Path) -> Result<BTreeMap<String, String>, BackupError> {
    let mut keys = BTreeMap::new();
    for name in KEY_FILES {
        let path = data_dir.join("secrets").join(name);
        match fs::read_to_string(&path) {
            Ok(value) => {
                let value = value.trim();
                if value.len() >= MIN_KEY_LEN {
                    keys.insert(name.to_string(), value.to_string());
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(BackupError::Io(std::io::Error::new(
                    error.kind(),
                    format!("{}: {error}", path.display()),
                )))
            }
        }
    }
    Ok(keys)
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

/// Decrypts the keys a snapshot carries. A wrong passphrase or identity
/// is refused in words that never repeat the secret.
pub fn open(sealed: &[u8], secret: &KeySecret) -> Result<OpenedKeys, BackupError> {
    let decryptor = age::Decryptor::new_buffered(sealed).map_err(|error| {
        BackupError::Damaged(format!("its encrypted keys cannot be read ({error})"))
    })?;
    let by_passphrase = decryptor.is_scrypt();
    let plaintext = match secret {
        KeySecret::Passphrase(passphrase) => {
            if !by_passphrase {
                return Err(BackupError::Keys(
                    "the snapshot's keys are encrypted to an age recipient, not with a \
                     passphrase: give its identity file with --identity FILE"
                        .into(),
                ));
            }
            let identity =
                age::scrypt::Identity::new(SecretString::from(passphrase.expose_str().to_string()));
            read_all(decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))).map_err(
                |error| match error {
                    age::DecryptError::DecryptionFailed
                    | age::DecryptError::KeyDecryptionFailed
                    | age::DecryptError::NoMatchingKeys => BackupError::Keys(
                        "the passphrase does not open the snapshot's keys: give the \
                         backup.passphrase (LANDLORD_BACKUP__PASSPHRASE) the snapshot was \
                         taken with"
                            .into(),
                    ),
                    other => decrypt_failed(other),
                },
            )?
        }
        KeySecret::Identity(file) => {
            if by_passphrase {
                return Err(BackupError::Keys(
                    "the snapshot's keys are encrypted with a passphrase, not to an age \
                     recipient: set backup.passphrase (LANDLORD_BACKUP__PASSPHRASE) instead \
                     of --identity"
                        .into(),
                ));
            }
            let identities = parse_identities(file.expose_str())?;
            read_all(
                decryptor.decrypt(
                    identities
                        .iter()
                        .map(|identity| identity as &dyn age::Identity),
                ),
            )
            .map_err(|error| match error {
                age::DecryptError::NoMatchingKeys
                | age::DecryptError::DecryptionFailed
                | age::DecryptError::KeyDecryptionFailed => BackupError::Keys(
                    "the identity given with --identity is not the one the snapshot's keys \
                     were encrypted to (backup.age_recipient when it was taken)"
                        .into(),
                ),
                other => decrypt_failed(other),
            })?
        }
    };
    let keys: BTreeMap<String, String> = serde_json::from_slice(&plaintext).map_err(|_| {
        BackupError::Damaged("its decrypted keys are not the expected JSON object".into())
    })?;
    for (name, value) in &keys {
        if !KEY_FILES.contains(&name.as_str()) {
            return Err(BackupError::Damaged(format!(
                "its keys hold an unexpected entry {name:?}"
            )));
        }
        if value.len() < MIN_KEY_LEN || value.chars().any(|c| c.is_whitespace()) {
            return Err(BackupError::Damaged(format!(
                "its {name} is not a key this server would use"
            )));
        }
    }
    Ok(keys.into_iter().collect())
}

fn read_all<R: Read>(reader: Result<R, age::DecryptError>) -> Result<Vec<u8>, age::DecryptError> {
    let mut reader = reader?;
    let mut plaintext = Vec::new();
    reader.read_to_end(&mut plaintext)?;
    Ok(plaintext)
}

fn decrypt_failed(error: age::DecryptError) -> BackupError {
    match error {
        age::DecryptError::ExcessiveWork { required, target } => BackupError::Keys(format!(
            "the passphrase's work factor ({required}) is far above what this machine does in \
             a second ({target}): restore on a faster machine"
        )),
        other => BackupError::Damaged(format!("its encrypted keys cannot be read ({other})")),
    }
}

/// The X25519 identities of an age identity file (`age-keygen`'s output:
/// comment lines, then `AGE-SECRET-KEY-1…`).
fn parse_identities(file: &str) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let mut identities = Vec::new();
    for line in file.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = line.parse::<age::x25519::Identity>().map_err(|_| {
            BackupError::Keys(
                "the --identity file holds a line that is not an age identity \
                 (AGE-SECRET-KEY-1…, as age-keygen writes it)"
                    .into(),
            )
        })?;
        identities.push(identity);
    }
    if identities.is_empty() {
        return Err(BackupError::Keys(
            "the --identity file holds no age identity (AGE-SECRET-KEY-1…)".into(),
        ));
    }
    Ok(identities)
}

/// The names of the keys `data_dir/secrets/` already holds with another
/// value than `keys` (a restore replaces them only when forced).
pub fn conflicts(data_dir: &Path, keys: &OpenedKeys) -> Result<Vec<String>, BackupError> {
    let held = read_keys(data_dir)?;
    Ok(keys
        .iter()
        .filter(|(name, value)| held.get(name).is_some_and(|held| held != value))
        .map(|(name, _)| name.clone())
        .collect())
}

/// Writes opened keys into `data_dir/secrets/` (owner-only files),
/// replacing a different key the directory holds (kept beside as
/// `NAME.before-restore-…`).
pub fn install(data_dir: &Path, keys: &OpenedKeys) -> Result<(), BackupError> {
    install_checked(data_dir, keys, true).map(|_| ())
}

/// What [`install_checked`] changed, to undo it.
#[derive(Debug, Default)]
pub struct InstalledKeys {
    /// Key files put in place.
    placed: Vec<PathBuf>,
    /// Key files moved aside: (where they are now, where they were).
    set_aside: Vec<(PathBuf, PathBuf)>,
    /// `secrets/` when this install created it.
    created_dir: Option<PathBuf>,
}

impl InstalledKeys {
    /// The keys now in place, by file name.
    pub fn placed(&self) -> Vec<String> {
        self.placed
            .iter()
            .filter_map(|path| path.file_name()?.to_str().map(str::to_string))
            .collect()
    }

    /// Where replaced keys were kept.
    pub fn set_aside(&self) -> Vec<PathBuf> {
        self.set_aside.iter().map(|(now, _)| now.clone()).collect()
    }

    /// Puts the directory back as it was before the install (best
    /// effort: each step is tried).
    pub fn undo(self) {
        for path in &self.placed {
            if let Err(error) = fs::remove_file(path) {
                tracing::error!(path = %path.display(), %error, "could not remove a restored key");
            }
        }
        for (now, was) in &self.set_aside {
            if let Err(error) = fs::rename(now, was) {
                tracing::error!(path = %was.display(), %error, "could not put a replaced key back");
            }
        }
        if let Some(dir) = &self.created_dir {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Writes `keys` into `data_dir/secrets/` (mode 0600, in a 0700
/// directory), each staged beside and renamed into place. A key already
/// there with the same value is left alone; with another value it is
/// refused unless `replace`, and then moved aside first. On failure
/// nothing is left changed.
pub fn install_checked(
    data_dir: &Path,
    keys: &OpenedKeys,
    replace: bool,
) -> Result<InstalledKeys, BackupError> {
    for (name, _) in keys {
        if !KEY_FILES.contains(&name.as_str()) {
            return Err(BackupError::Damaged(format!(
                "its keys hold an unexpected entry {name:?}"
            )));
        }
    }
    let conflicting = conflicts(data_dir, keys)?;
    if !conflicting.is_empty() && !replace {
        return Err(refused_conflict(data_dir, &conflicting));
    }
    let dir = data_dir.join("secrets");
    let mut done = InstalledKeys::default();
    if !dir.exists() {
        create_private_dir(&dir)?;
        done.created_dir = Some(dir.clone());
    }
    match place_all(&dir, keys, &mut done) {
        Ok(()) => Ok(done),
        Err(error) => {
            done.undo();
            Err(error)
        }
    }
}

fn place_all(dir: &Path, keys: &OpenedKeys, done: &mut InstalledKeys) -> Result<(), BackupError> {
    let held = read_keys(dir.parent().unwrap_or(dir))?;
    let suffix = Timestamp::now().millis();
    for (name, value) in keys {
        if held.get(name) == Some(value) {
            continue;
        }
        let path = dir.join(name);
        let staged = dir.join(format!(".{name}.restoring"));
        // Owner-only, as the server writes the keys it generates.
        landlord_core::secrets::write_private(&staged, value)?;
        if path.exists() {
            let aside = dir.join(format!("{name}.before-restore-{suffix}"));
            if let Err(error) = fs::rename(&path, &aside) {
                let _ = fs::remove_file(&staged);
                return Err(error.into());
            }
            done.set_aside.push((aside, path.clone()));
        }
        if let Err(error) = fs::rename(&staged, &path) {
            let _ = fs::remove_file(&staged);
            return Err(error.into());
        }
        done.placed.push(path);
    }
    sync_dir(dir)?;
    Ok(())
}

/// The refusal for keys the target directory holds with other values.
pub fn refused_conflict(data_dir: &Path, names: &[String]) -> BackupError {
    BackupError::Refused(format!(
        "{} holds a different {} than the snapshot's: restore into an empty directory, or add \
         --force to replace {} (the replaced file is kept beside as NAME.before-restore-…)",
        data_dir.join("secrets").display(),
        names.join(" and "),
        if names.len() == 1 { "it" } else { "them" }
    ))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use landlord_core::secret::Secret;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const PAYLOAD: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn data_dir_with_keys() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("secrets")).unwrap();
        fs::write(dir.path().join("secrets/token_signing_key"), TOKEN).unwrap();
        fs::write(
            dir.path().join("secrets/payload_encryption_key"),
            format!("{PAYLOAD}\n"),
        )
        .unwrap();
        dir
    }

    fn with_passphrase(passphrase: &str) -> BackupConfig {
        BackupConfig {
            passphrase: Some(Secret::from(passphrase.to_string())),
            ..BackupConfig::default()
        }
    }

    fn expected() -> OpenedKeys {
        vec![
            ("payload_encryption_key".into(), PAYLOAD.into()),
            ("token_signing_key".into(), TOKEN.into()),
        ]
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_passphrase_round_trip_restores_both_keys_owner_only() {
        let from = data_dir_with_keys();
        let (included, sealed) = seal(
            &with_passphrase("correct horse battery staple"),
            from.path(),
        )
        .unwrap();
        assert_eq!(included, KeysIncluded::Passphrase);
        let sealed = sealed.unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(
            !text.contains(TOKEN) && !text.contains(PAYLOAD),
            "encrypted"
        );
        let opened = open(
            &sealed,
            &KeySecret::Passphrase(Secret::from("correct horse battery staple".to_string())),
        )
        .unwrap();
        assert_eq!(opened, expected());

        let to = tempfile::tempdir().unwrap();
        install(to.path(), &opened).unwrap();
        for (name, value) in expected() {
            let path = to.path().join("secrets").join(&name);
            assert_eq!(fs::read_to_string(&path).unwrap(), value);
            assert_eq!(mode(&path), 0o600, "{name} is owner-only");
        }
        assert_eq!(mode(&to.path().join("secrets")), 0o700);
    }

    #[test]
    fn an_age_identity_round_trip_restores_both_keys() {
        let from = data_dir_with_keys();
        let identity = age::x25519::Identity::generate();
        let config = BackupConfig {
            age_recipient: Some(identity.to_public().to_string()),
            ..BackupConfig::default()
        };
        let (included, sealed) = seal(&config, from.path()).unwrap();
        assert_eq!(included, KeysIncluded::AgeRecipient);
        use age::secrecy::ExposeSecret;
        let file = format!(
            "# created: 2026-12-06T19:00:00Z\n# public key: {}\n{}\n",
            identity.to_public(),
            identity.to_string().expose_secret()
        );
        let opened = open(&sealed.unwrap(), &KeySecret::Identity(Secret::from(file))).unwrap();
        assert_eq!(opened, expected());
    }

    #[test]
    fn a_wrong_passphrase_or_identity_is_refused_without_repeating_it() {
        let from = data_dir_with_keys();
        let (_, sealed) = seal(
            &with_passphrase("correct horse battery staple"),
            from.path(),
        )
        .unwrap();
        let sealed = sealed.unwrap();
        let error = open(
            &sealed,
            &KeySecret::Passphrase(Secret::from("wrong horse battery staple".to_string())),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, BackupError::Keys(_)), "{message}");
        assert!(message.contains("passphrase does not open"), "{message}");
        assert!(!message.contains("wrong horse"), "{message}");

        let other = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        let error = open(
            &sealed,
            &KeySecret::Identity(Secret::from(other.to_string().expose_secret().to_string())),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("encrypted with a passphrase"),
            "{error}"
        );

        let identity = age::x25519::Identity::generate();
        let config = BackupConfig {
            age_recipient: Some(identity.to_public().to_string()),
            ..BackupConfig::default()
        };
        let (_, sealed) = seal(&config, from.path()).unwrap();
        let sealed = sealed.unwrap();
        let error = open(
            &sealed,
            &KeySecret::Identity(Secret::from(other.to_string().expose_secret().to_string())),
        )
        .unwrap_err();
        assert!(error.to_string().contains("is not the one"), "{error}");
        let error = open(
            &sealed,
            &KeySecret::Passphrase(Secret::from("correct horse battery staple".to_string())),
        )
        .unwrap_err();
        assert!(error.to_string().contains("--identity FILE"), "{error}");
        let error = open(
            &sealed,
            &KeySecret::Identity(Secret::from("nonsense".to_string())),
        )
        .unwrap_err();
        assert!(error.to_string().contains("not an age identity"), "{error}");
    }

    #[test]
    fn no_setting_or_no_key_file_seals_nothing() {
        let from = data_dir_with_keys();
        assert_eq!(
            seal(&BackupConfig::default(), from.path()).unwrap(),
            (KeysIncluded::None, None)
        );
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            seal(
                &with_passphrase("correct horse battery staple"),
                empty.path()
            )
            .unwrap(),
            (KeysIncluded::None, None)
        );
    }

    #[test]
    fn a_different_key_is_replaced_only_when_forced_and_kept_beside() {
        let to = tempfile::tempdir().unwrap();
        fs::create_dir_all(to.path().join("secrets")).unwrap();
        let other = "9".repeat(64);
        fs::write(to.path().join("secrets/token_signing_key"), &other).unwrap();
        let keys = expected();
        assert_eq!(
            conflicts(to.path(), &keys).unwrap(),
            vec!["token_signing_key"]
        );
        let error = install_checked(to.path(), &keys, false).unwrap_err();
        assert!(matches!(error, BackupError::Refused(_)), "{error}");
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(
            fs::read_to_string(to.path().join("secrets/token_signing_key")).unwrap(),
            other,
            "untouched"
        );
        assert!(!to.path().join("secrets/payload_encryption_key").exists());

        let done = install_checked(to.path(), &keys, true).unwrap();
        assert_eq!(
            fs::read_to_string(to.path().join("secrets/token_signing_key")).unwrap(),
            TOKEN
        );
        let aside = done.set_aside();
        assert_eq!(aside.len(), 1);
        assert_eq!(fs::read_to_string(&aside[0]).unwrap(), other);

        done.undo();
        assert_eq!(
            fs::read_to_string(to.path().join("secrets/token_signing_key")).unwrap(),
            other,
            "undone"
        );
        assert!(!to.path().join("secrets/payload_encryption_key").exists());
        // The same values: nothing to replace, nothing refused.
        let same = vec![("token_signing_key".to_string(), other.clone())];
        assert!(conflicts(to.path(), &same).unwrap().is_empty());
        assert!(install_checked(to.path(), &same, false)
            .unwrap()
            .placed()
            .is_empty());
    }

    #[test]
    fn the_backup_note_says_what_is_lost_or_why_nothing_is() {
        let none = backup_note(
            KeysIncluded::None,
            &BackupConfig::default(),
            ConfiguredKeys::default(),
        );
        assert!(none.contains("no backup.passphrase"), "{none}");
        assert!(none.contains(LOST_WITHOUT_KEYS), "{none}");
        let configured = backup_note(
            KeysIncluded::None,
            &BackupConfig::default(),
            ConfiguredKeys {
                token_signing_key: true,
                payload_encryption_key: true,
            },
        );
        assert!(configured.contains("needs no key"), "{configured}");
        assert!(!configured.contains(LOST_WITHOUT_KEYS), "{configured}");
        let sealed = backup_note(
            KeysIncluded::Passphrase,
            &with_passphrase("correct horse battery staple"),
            ConfiguredKeys {
                token_signing_key: true,
                payload_encryption_key: false,
            },
        );
        assert!(
            sealed.contains("encrypted with backup.passphrase"),
            "{sealed}"
        );
        assert!(
            sealed.contains("token_signing_key is set in the configuration"),
            "{sealed}"
        );
    }
}
