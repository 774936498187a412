//! Restoring a snapshot into a data directory: the archive is fetched
//! (a file, an `s3://` URL, or a name at the configured destination),
//! checked against its stored checksum, unpacked and checked against its
//! manifest, checked by `PRAGMA integrity_check`, and only then moved into
//! place as `landlord.db`, with the keys when the snapshot carries them
//! and they can be opened. The server started on the directory afterwards
//! applies the migrations newer than the snapshot.

use std::path::{Path, PathBuf};

use landlord_core::data_dir::{lock_exclusive, LockError};

use crate::archive;
use crate::config::BackupConfig;
use crate::destination::{Destination, Location};
use crate::error::BackupError;
use crate::keys::{self, KeySecret};
use crate::manifest::{archive_file, is_snapshot_name, KeysIncluded, Manifest, StoredManifest};
use crate::store;

/// What `landlord restore` was asked.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// A file (`./landlord-….tar.zst`), `s3://bucket/prefix/landlord-….tar.zst`,
    /// a snapshot name at the configured destination, or `latest`.
    pub from: String,
    /// The data directory to restore into.
    pub data_dir: PathBuf,
    /// Replace a database the directory already holds.
    pub force: bool,
    /// How to open the snapshot's keys, when it carries them.
    pub key: Option<KeySecret>,
    /// Restore the database alone even when the snapshot carries keys.
    pub without_keys: bool,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where the database is now.
    pub database: PathBuf,
    /// Whether the data directory's keys were restored.
    pub keys_restored: bool,
    /// Why the keys were not restored, in words (when they were not).
    pub keys_not_restored_because: Option<String>,
    /// The key files the directory already held and keeps (when the
    /// snapshot's keys were not restored, these are the ones the server
    /// will use).
    pub keys_kept: Vec<String>,
    /// Replaced key files, kept beside (`--force` over other keys).
    pub keys_set_aside: Vec<PathBuf>,
}

/// Restores `request.from` into `request.data_dir`. `known_schema_version`
/// is the newest migration this binary knows: a snapshot taken by a newer
/// Landlord is refused.
///
/// Nothing in the directory changes until every check passed (the
/// archive's checksums, its manifest, `PRAGMA integrity_check`, the
/// keys); then the keys go in place and the database last, and when that
/// fails the keys are taken back out. The work directory inside the data
/// directory is removed however the restore ends, and a directory the
/// restore created is removed again when it fails.
pub async fn restore(
    request: &RestoreRequest,
    config: &BackupConfig,
    known_schema_version: i64,
) -> Result<RestoreReport, BackupError> {
    let dir = &request.data_dir;
    let created = !dir.exists();
    let result = restore_locked(request, config, known_schema_version).await;
    if result.is_err() && created {
        // Only the lock file and the emptied work directory are in it.
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn restore_locked(
    request: &RestoreRequest,
    config: &BackupConfig,
    known_schema_version: i64,
) -> Result<RestoreReport, BackupError> {
    let dir = &request.data_dir;
    let _lock = lock_exclusive(dir).map_err(|error| match error {
        LockError::Busy(dir) => BackupError::Refused(format!(
            "{dir} is in use by a running server (or another restore): stop it first"
        )),
        LockError::Io { path, source } => BackupError::Io(std::io::Error::new(
            source.kind(),
            format!("{path}: {source}"),
        )),
    })?;
    let target = dir.join("landlord.db");
    if target.exists() && !request.force {
        return Err(BackupError::Refused(format!(
            "{} already holds a database: restore into an empty directory, or add --force to replace it",
            dir.display()
        )));
    }
    remove_abandoned_work(dir);
    let work = tempfile::Builder::new()
        .prefix(WORK_PREFIX)
        .tempdir_in(dir)?;
    let archive_path = fetch(&request.from, config, work.path()).await?;
    let unpacked = {
        let archive_path = archive_path.clone();
        let out = work.path().to_path_buf();
        tokio::task::spawn_blocking(move || archive::unpack(&archive_path, &out))
            .await
            .map_err(|error| BackupError::Io(std::io::Error::other(error.to_string())))??
    };
    if unpacked.manifest.schema_version > known_schema_version {
        return Err(BackupError::Invalid(format!(
            "the snapshot was taken by a newer Landlord ({}, schema {}) than this one knows \
             (schema {known_schema_version}): restore it with that version or newer",
            unpacked.manifest.landlord_version, unpacked.manifest.schema_version
        )));
    }
    let mut conn = store::open_file(&unpacked.database, true).await?;
    let problems = store::integrity_problems(&mut conn).await?;
    drop(conn);
    if !problems.is_empty() {
        return Err(BackupError::Damaged(format!(
            "its database fails PRAGMA integrity_check: {}",
            problems.join("; ")
        )));
    }
    let mut keys_not_restored_because = None;
    let opened_keys = match (&unpacked.keys, unpacked.manifest.keys) {
        (Some(_), _) if request.without_keys => {
            keys_not_restored_because = Some("--without-keys was given".to_string());
            None
        }
        (Some(sealed), kind) if kind != KeysIncluded::None => {
            let Some(secret) = request.key.as_ref() else {
                return Err(BackupError::Refused(format!(
                    "the snapshot carries the data directory's keys, encrypted ({}): {}, or add \
                     --without-keys to restore the database alone",
                    match kind {
                        KeysIncluded::AgeRecipient => "to an age recipient",
                        _ => "with a passphrase",
                    },
                    match kind {
                        KeysIncluded::AgeRecipient => "give its identity file with --identity FILE",
                        _ =>
                            "set the passphrase it was taken with in backup.passphrase \
                              (LANDLORD_BACKUP__PASSPHRASE)",
                    }
                )));
            };
            let sealed = sealed.clone();
            let secret = secret.clone();
            // scrypt takes about a second: off the async threads.
            Some(
                tokio::task::spawn_blocking(move || keys::open(&sealed, &secret))
                    .await
                    .map_err(|error| BackupError::Io(std::io::Error::other(error.to_string())))??,
            )
        }
        _ => {
            keys_not_restored_because = Some(
                "the snapshot holds the database alone: no backup.passphrase or \
                 backup.age_recipient was set when it was taken"
                    .to_string(),
            );
            None
        }
    };
    if let Some(opened) = &opened_keys {
        let conflicting = keys::conflicts(dir, opened)?;
        if !conflicting.is_empty() && !request.force {
            return Err(keys::refused_conflict(dir, &conflicting));
        }
    }
    // Everything is checked: put the keys, then the database, in place.
    let installed = match &opened_keys {
        Some(opened) => Some(keys::install_checked(dir, opened, request.force)?),
        None => None,
    };
    if let Err(error) = put_database_in_place(dir, &unpacked.database, &target) {
        if let Some(installed) = installed {
            installed.undo();
        }
        return Err(error.into());
    }
    sync_dir(dir)?;
    let keys_kept = if opened_keys.is_some() {
        Vec::new()
    } else {
        keys::KEY_FILES
            .iter()
            .filter(|name| dir.join("secrets").join(name).is_file())
            .map(|name| name.to_string())
            .collect()
    };
    Ok(RestoreReport {
        manifest: unpacked.manifest,
        database: target,
        keys_restored: opened_keys.is_some(),
        keys_not_restored_because,
        keys_kept,
        keys_set_aside: installed.map(|i| i.set_aside()).unwrap_or_default(),
    })
}

/// The work directories' prefix inside the data directory.
const WORK_PREFIX: &str = ".restore-";

/// Removes work directories a restore killed mid-way left behind (the
/// exclusive lock says no other restore runs).
fn remove_abandoned_work(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(WORK_PREFIX) && entry.path().is_dir() {
            if let Err(error) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(path = %entry.path().display(), %error, "could not remove an abandoned restore's files");
            }
        }
    }
}

/// Replaces `target` by `database`: first the old database's journals
/// (a journal beside the new file would be replayed into it), then one
/// rename.
fn put_database_in_place(dir: &Path, database: &Path, target: &Path) -> std::io::Result<()> {
    for stale in ["landlord.db-wal", "landlord.db-shm", "landlord.db-journal"] {
        match std::fs::remove_file(dir.join(stale)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    std::fs::rename(database, target)
}

/// Brings the archive named by `from` into `work`, checked against its
/// stored manifest when there is one; returns its path.
async fn fetch(from: &str, config: &BackupConfig, work: &Path) -> Result<PathBuf, BackupError> {
    let local = Path::new(from);
    if !from.contains("://") && local.is_file() {
        let stored = sibling_manifest(local);
        if let Some(stored) = &stored {
            let (bytes, sha256) = {
                let local = local.to_path_buf();
                tokio::task::spawn_blocking(move || archive::digest_file(&local))
                    .await
                    .map_err(|error| BackupError::Io(std::io::Error::other(error.to_string())))??
            };
            check_archive(stored, bytes, &sha256)?;
        }
        return Ok(local.to_path_buf());
    }
    let (destination, name) = remote(from, config).await?;
    let stored = destination.manifest(&name).await?;
    let path = work.join("snapshot.tar.zst");
    let (bytes, sha256) = destination.download(&archive_file(&name), &path).await?;
    check_archive(&stored, bytes, &sha256)?;
    Ok(path)
}

/// The destination and snapshot name `from` designates.
async fn remote(from: &str, config: &BackupConfig) -> Result<(Destination, String), BackupError> {
    if from.contains("://") {
        let trimmed = from.trim_end_matches('/');
        let (parent, file) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let name = file.strip_suffix(".tar.zst").unwrap_or(file);
        if !is_snapshot_name(name) {
            return Err(BackupError::Invalid(format!(
                "--from: {from} does not end in a snapshot's archive (landlord-….tar.zst)"
            )));
        }
        let location = Location::parse(parent)
            .map_err(|reason| BackupError::Invalid(format!("--from: {reason}")))?;
        return Ok((Destination::open(&location, config)?, name.to_string()));
    }
    let Some(destination) = Destination::configured(config)? else {
        return Err(BackupError::Invalid(format!(
            "--from: {from} is not a file, and no backup.destination is configured to find it at"
        )));
    };
    let name = if from == "latest" {
        let newest = destination.list().await?.into_iter().next();
        match newest {
            Some(stored) => stored.manifest.name,
            None => return Err(BackupError::NotFound("(none at all)".into())),
        }
    } else {
        from.strip_suffix(".tar.zst").unwrap_or(from).to_string()
    };
    Ok((destination, name))
}

/// The stored manifest beside a local archive (`{name}.json`), if any.
fn sibling_manifest(archive: &Path) -> Option<StoredManifest> {
    let file = archive.file_name()?.to_str()?;
    let name = file.strip_suffix(".tar.zst")?;
    let json = std::fs::read(archive.with_file_name(format!("{name}.json"))).ok()?;
    serde_json::from_slice(&json).ok()
}

fn check_archive(stored: &StoredManifest, bytes: u64, sha256: &str) -> Result<(), BackupError> {
    if stored.archive_bytes != bytes || stored.archive_sha256 != sha256 {
        return Err(BackupError::Damaged(format!(
            "the archive's SHA-256 is {sha256} ({bytes} bytes), its manifest says {} ({} bytes)",
            stored.archive_sha256, stored.archive_bytes
        )));
    }
    Ok(())
}

/// Makes the renames in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
