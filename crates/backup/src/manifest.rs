//! What a snapshot says about itself: the manifest inside the archive
//! (checked by restore against the database it unpacks) and the same
//! manifest beside the archive at the destination, with the archive's own
//! size and checksum (read by `--list`, the console and restore).

use landlord_core::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The archive format this build writes and reads.
pub const FORMAT: u32 = 1;

/// How a snapshot came to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `serve`'s schedule.
    Scheduled,
    /// An operator's "back up now" (console or API).
    Manual,
    /// `landlord backup` on the command line.
    Command,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Command => "command",
        }
    }
}

/// Whether, and how, the data directory's keys travel in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeysIncluded {
    /// The database alone: the keys were not encrypted into it.
    None,
    /// Encrypted with `backup.passphrase` (age, scrypt).
    Passphrase,
    /// Encrypted to `backup.age_recipient`.
    AgeRecipient,
}

/// The manifest inside the archive (`manifest.json`, its first entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The snapshot's name: `landlord-20261206T191500.123Z`.
    pub name: String,
    /// When the snapshot's read began: everything committed before it is
    /// in the snapshot.
    pub created_at: Timestamp,
    /// The Landlord version that took it.
    pub landlord_version: String,
    /// The newest migration applied to the database (restore refuses a
    /// snapshot newer than its binary knows).
    pub schema_version: i64,
    /// The uncompressed database's size in bytes.
    pub database_bytes: u64,
    /// The uncompressed database's SHA-256, hex.
    pub database_sha256: String,
    pub keys: KeysIncluded,
    pub trigger: Trigger,
}

/// The manifest stored beside the archive (`{name}.json`): written last,
/// so a snapshot is listed only once its archive is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredManifest {
    #[serde(flatten)]
    pub manifest: Manifest,
    /// The archive's size in bytes (compressed).
    pub archive_bytes: u64,
    /// The archive's SHA-256, hex.
    pub archive_sha256: String,
    /// The archive was read back from the destination after writing and
    /// matched its checksum, and the database passed `PRAGMA
    /// integrity_check` before it was packed.
    pub verified: bool,
}

/// A snapshot's name for a time: sortable, unique to the millisecond.
pub fn snapshot_name(at: Timestamp) -> String {
    let time = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.millis())
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%S%.3fZ");
    format!("landlord-{time}")
}

/// The archive's object name for a snapshot name.
pub fn archive_file(name: &str) -> String {
    format!("{name}.tar.zst")
}

/// The stored manifest's object name for a snapshot name.
pub fn manifest_file(name: &str) -> String {
    format!("{name}.json")
}

/// Whether `name` is a snapshot name this build writes (so that a name
/// from a URL or a form never names another object).
pub fn is_snapshot_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("landlord-") else {
        return false;
    };
    rest.len() == 20
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'T' | 'Z' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_are_recognised() {
        let early = snapshot_name(Timestamp::from_millis(1_796_000_000_000));
        let late = snapshot_name(Timestamp::from_millis(1_796_000_000_001));
        assert_eq!(early, "landlord-20261130T005320.000Z");
        assert!(early < late);
        assert!(is_snapshot_name(&early));
        assert!(!is_snapshot_name("landlord-../../etc/passwd"));
        assert!(!is_snapshot_name("other-20261130T015320.000Z"));
        assert_eq!(archive_file(&early), format!("{early}.tar.zst"));
    }
}
