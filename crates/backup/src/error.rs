//! What can go wrong taking, listing or restoring a snapshot, in words an
//! operator can act on.

use landlord_core::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Backups do not apply (PostgreSQL), or a setting is missing.
    #[error("{0}")]
    Unsupported(String),
    /// Bad input: a destination, a snapshot name, a flag.
    #[error("{0}")]
    Invalid(String),
    /// The snapshot is not what its manifest says: refused.
    #[error("the snapshot is damaged: {0}")]
    Damaged(String),
    /// No such snapshot at the destination.
    #[error("no snapshot {0} at the destination")]
    NotFound(String),
    /// The restore's target is in use or holds a database.
    #[error("{0}")]
    Refused(String),
    /// Another instance or request is taking a snapshot now.
    #[error("a backup is already running")]
    Busy,
    #[error("the destination failed: {0}")]
    Destination(#[from] object_store::Error),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a file operation failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the keys could not be encrypted or decrypted: {0}")]
    Keys(String),
    /// A bucket refused a request (credentials, permissions, a missing
    /// bucket, the region) or could not be reached, in words that name the
    /// setting to check; never holds a secret.
    #[error("{0}")]
    Bucket(String),
}

impl From<BackupError> for ApiError {
    fn from(error: BackupError) -> Self {
        match error {
            BackupError::Invalid(reason) => ApiError::invalid_field("name", reason),
            BackupError::NotFound(name) => ApiError::NotFound(format!("no snapshot {name}")),
            BackupError::Busy => ApiError::Conflict("a backup is already running".into()),
            BackupError::Unsupported(reason) | BackupError::Refused(reason) => {
                ApiError::Conflict(reason)
            }
            // The cause is logged by the error envelope, never shown.
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}
