//! Taking a snapshot: a consistent copy of the database (`VACUUM INTO`,
//! beside the server's writers), checked (`PRAGMA integrity_check`),
//! packed with its manifest and the encrypted keys, written to the
//! destination, read back and compared, and only then listed (its
//! manifest written last). Every attempt is recorded for the operator and
//! counted in `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use landlord_core::config::DatabaseKind;
use landlord_core::{Config, Db, Timestamp};
use tokio::sync::Mutex;

use crate::config::BackupConfig;
use crate::destination::Destination;
use crate::error::BackupError;
use crate::manifest::{
    archive_file, manifest_file, snapshot_name, Manifest, StoredManifest, Trigger, FORMAT,
};
use crate::store::{self, RunOutcome};
use crate::{archive, keys, POSTGRES_GUIDE};

/// Backups of one database. Cheap to clone.
#[derive(Clone)]
pub struct Backups {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    config: BackupConfig,
    data_dir: PathBuf,
    /// The configured destination (`backup.destination`), when set.
    destination: Option<Destination>,
    /// One snapshot at a time from this instance.
    taking: Mutex<()>,
}

impl Backups {
    /// Backups of `db` as `config` sets them (`[backup]`, the data
    /// directory); the destination is opened, not contacted.
    pub fn new(db: Db, config: &Config) -> Result<Self, BackupError> {
        let settings = config.section::<BackupConfig>().clone();
        let destination = Destination::configured(&settings)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                config: settings,
                data_dir: config.data_dir.clone(),
                destination,
                taking: Mutex::new(()),
            }),
        })
    }

    pub fn settings(&self) -> &BackupConfig {
        &self.inner.config
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The configured destination, when set.
    pub fn destination(&self) -> Option<&Destination> {
        self.inner.destination.as_ref()
    }

    /// Whether backups apply: SQLite only (PostgreSQL has its own tools).
    pub fn supported(&self) -> Result<(), BackupError> {
        match self.inner.db.backend() {
            DatabaseKind::Sqlite => Ok(()),
            DatabaseKind::Postgres => Err(BackupError::Unsupported(POSTGRES_GUIDE.into())),
        }
    }

    /// The configured destination, or why there is none.
    pub fn configured_destination(&self) -> Result<&Destination, BackupError> {
        self.destination().ok_or_else(|| {
            BackupError::Unsupported(
                "no backup destination is configured: set backup.destination \
                 (LANDLORD_BACKUP__DESTINATION) to a directory or s3://bucket/prefix"
                    .into(),
            )
        })
    }

    /// Takes a snapshot to the configured destination.
    pub async fn take(&self, trigger: Trigger) -> Result<StoredManifest, BackupError> {
        let destination = self.configured_destination()?.clone();
        self.take_to(&destination, trigger).await
    }

    /// Takes a snapshot to `destination`, recording the attempt; refuses
    /// at once when this instance is already taking one.
    pub async fn take_to(
        &self,
        destination: &Destination,
        trigger: Trigger,
    ) -> Result<StoredManifest, BackupError> {
        self.supported()?;
        let _taking = self
            .inner
            .taking
            .try_lock()
            .map_err(|_| BackupError::Busy)?;
        let started = Instant::now();
        let now = Timestamp::now();
        let where_to = destination.location().to_string();
        let run = store::start_run(&self.inner.db, trigger, &where_to, now).await?;
        let name = snapshot_name(now);
        let result = self.write(destination, &name, now, trigger).await;
        let outcome = match &result {
            Ok(stored) => RunOutcome::Succeeded {
                snapshot: name.clone(),
                archive_bytes: stored.archive_bytes,
                database_bytes: stored.manifest.database_bytes,
            },
            Err(error) => RunOutcome::Failed {
                snapshot: Some(name.clone()),
                error: error.to_string(),
            },
        };
        if let Err(error) =
            store::finish_run(&self.inner.db, &run, &outcome, Timestamp::now()).await
        {
            tracing::error!(%error, "could not record the end of a backup");
        }
        record_metrics(&result, started.elapsed().as_secs_f64());
        match &result {
            Ok(stored) => tracing::info!(
                snapshot = %name,
                destination = %where_to,
                bytes = stored.archive_bytes,
                seconds = started.elapsed().as_secs_f64(),
                "backup taken"
            ),
            Err(error) => tracing::error!(
                snapshot = %name,
                destination = %where_to,
                %error,
                "backup failed"
            ),
        }
        result
    }

    /// Copies, checks, packs, uploads, reads back, then lists the snapshot.
    async fn write(
        &self,
        destination: &Destination,
        name: &str,
        now: Timestamp,
        trigger: Trigger,
    ) -> Result<StoredManifest, BackupError> {
        // Beside the database, on the same disk: /tmp may be small.
        std::fs::create_dir_all(&self.inner.data_dir)?;
        remove_abandoned_work(&self.inner.data_dir, now);
        let work = tempfile::Builder::new()
            .prefix(WORK_PREFIX)
            .tempdir_in(&self.inner.data_dir)?;
        let copy = work.path().join("landlord.db");
        store::vacuum_into(&self.inner.db, &copy.to_string_lossy()).await?;
        let mut conn = store::open_file(&copy, true).await?;
        let problems = store::integrity_problems(&mut conn).await?;
        let schema_version = store::schema_version(&mut conn).await?;
        drop(conn);
        if !problems.is_empty() {
            return Err(BackupError::Damaged(format!(
                "the database failed PRAGMA integrity_check: {}",
                problems.join("; ")
            )));
        }
        // A passphrase costs about a second of scrypt: off the async threads.
        let (keys_included, sealed_keys) = {
            let config = self.inner.config.clone();
            let data_dir = self.inner.data_dir.clone();
            tokio::task::spawn_blocking(move || keys::seal(&config, &data_dir))
                .await
                .map_err(|error| BackupError::Io(std::io::Error::other(error.to_string())))??
        };
        let archive_path = work.path().join("snapshot.tar.zst");
        let manifest_name = name.to_string();
        let (manifest, archive_bytes, archive_sha256) = {
            let copy = copy.clone();
            let archive_path = archive_path.clone();
            tokio::task::spawn_blocking(move || -> Result<_, BackupError> {
                let (database_bytes, database_sha256) = archive::digest_file(&copy)?;
                let manifest = Manifest {
                    format: FORMAT,
                    name: manifest_name,
                    created_at: now,
                    landlord_version: env!("CARGO_PKG_VERSION").into(),
                    schema_version,
                    database_bytes,
                    database_sha256,
                    keys: keys_included,
                    trigger,
                };
                let (bytes, sha256) =
                    archive::write(&manifest, &copy, sealed_keys.as_deref(), &archive_path)?;
                Ok((manifest, bytes, sha256))
            })
            .await
            .map_err(|error| BackupError::Io(std::io::Error::other(error.to_string())))??
        };
        destination
            .put_file(&archive_file(name), &archive_path)
            .await?;
        let (stored_bytes, stored_sha256) = destination.digest(&archive_file(name)).await?;
        if (stored_bytes, &stored_sha256) != (archive_bytes, &archive_sha256) {
            return Err(BackupError::Damaged(
                "the archive read back from the destination differs from the one written".into(),
            ));
        }
        let stored = StoredManifest {
            manifest,
            archive_bytes,
            archive_sha256,
            verified: true,
        };
        let json = serde_json::to_vec_pretty(&stored)
            .map_err(|error| BackupError::Invalid(error.to_string()))?;
        destination.put_bytes(&manifest_file(name), json).await?;
        Ok(stored)
    }
}

/// The work directories' prefix inside the data directory.
const WORK_PREFIX: &str = ".backup-";

/// A work directory older than this was left by a process killed while it
/// took a snapshot (another instance's snapshot in progress is younger:
/// no snapshot of a database this server can serve takes six hours).
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Removes what snapshots killed mid-way left in the data directory (a
/// full copy of the database each).
fn remove_abandoned_work(dir: &std::path::Path, now: Timestamp) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let cutoff = std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_millis(now.minus(ABANDONED_AFTER).millis().max(0) as u64);
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with(WORK_PREFIX)
            && entry.path().is_dir()
            && entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified < cutoff);
        if abandoned {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed an abandoned snapshot's files")
                }
                Err(error) => {
                    tracing::warn!(path = %entry.path().display(), %error, "could not remove an abandoned snapshot's files")
                }
            }
        }
    }
}

/// `/metrics`: attempts by outcome, the last success's time and size, and
/// how long snapshots take.
fn record_metrics(result: &Result<StoredManifest, BackupError>, seconds: f64) {
    let outcome = if result.is_ok() {
        "succeeded"
    } else {
        "failed"
    };
    metrics::counter!("landlord_backups_total", "outcome" => outcome).increment(1);
    metrics::histogram!("landlord_backup_duration_seconds").record(seconds);
    if let Ok(stored) = result {
        metrics::gauge!("landlord_backup_last_success_timestamp_seconds")
            .set(stored.manifest.created_at.millis() as f64 / 1000.0);
        metrics::gauge!("landlord_backup_last_size_bytes").set(stored.archive_bytes as f64);
    } else {
        metrics::gauge!("landlord_backup_last_failure_timestamp_seconds")
            .set(Timestamp::now().millis() as f64 / 1000.0);
    }
}
