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
}

/// Restores `request.from` into `request.data_dir`. `known_schema_version`
/// is the newest migration this binary knows: a snapshot taken by a newer
/// Landlord is refused.
pub async fn restore(
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
    let work = tempfile::Builder::new()
        .prefix(".restore-")
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
    let opened_keys = match (&unpacked.keys, unpacked.manifest.keys) {
        (Some(sealed), kind) if kind != KeysIncluded::None && !request.without_keys => {
            let Some(secret) = request.key.as_ref() else {
                return Err(BackupError::Refused(format!(
                    "the snapshot carries the data directory's keys, encrypted ({}): give the \
                     passphrase (backup.passphrase, LANDLORD_BACKUP__PASSPHRASE) or --identity \
                     FILE for an age recipient, or --without-keys to restore the database alone",
                    match kind {
                        KeysIncluded::AgeRecipient => "to an age recipient",
                        _ => "with a passphrase",
                    }
                )));
            };
            Some(keys::open(sealed, secret)?)
        }
        _ => None,
    };
    // Everything is checked: put the database (and keys) in place.
    for stale in ["landlord.db-wal", "landlord.db-shm"] {
        match std::fs::remove_file(dir.join(stale)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
    }
    std::fs::rename(&unpacked.database, &target)?;
    let keys_restored = match opened_keys {
        Some(opened) => {
            keys::install(dir, &opened)?;
            true
        }
        None => false,
    };
    sync_dir(dir)?;
    Ok(RestoreReport {
        manifest: unpacked.manifest,
        database: target,
        keys_restored,
    })
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
