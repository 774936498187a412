//! Backups of the SQLite database: consistent snapshots taken while the
//! server runs (`VACUUM INTO`), packed with a manifest and checksums
//! (`archive`, `manifest`), written to a directory or an S3-compatible
//! bucket (`destination`), with the data directory's keys encrypted when a
//! passphrase or age recipient is configured (`keys`); taken on a schedule
//! by one instance at a time and pruned by retention (`schedule`,
//! `retention`); restored, checked, into an empty data directory
//! (`restore`). Operators see them at `/operator/backups` and
//! `/api/v1/admin/backups` (`pages`, `routes`). PostgreSQL deployments use
//! PostgreSQL's own tools.

pub mod archive;
pub mod config;
pub mod destination;
pub mod error;
pub mod keys;
pub mod manifest;
pub mod pages;
pub mod restore;
pub mod retention;
pub mod routes;
pub mod schedule;
pub mod snapshot;
pub mod store;

pub use config::BackupConfig;
pub use error::BackupError;
pub use manifest::{KeysIncluded, Manifest, StoredManifest, Trigger};
pub use routes::{router, BackupsApi};
pub use snapshot::Backups;

/// Landlord's migrations for backups' own tables.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Where the README explains PostgreSQL's backups (pg_dump, WAL archiving,
/// point-in-time recovery).
pub const POSTGRES_GUIDE: &str =
    "PostgreSQL is backed up with its own tools: see the README's \"Backups\" section, \
     \"PostgreSQL\" (pg_dump for a copy, WAL archiving for point-in-time recovery), \
     or docs/src/backups.md";
