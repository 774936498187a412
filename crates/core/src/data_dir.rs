//! The data directory's lock file (`landlord.lock`): every server using a
//! SQLite database in the directory holds it shared for its lifetime, and
//! `landlord restore` holds it exclusively, so a restore never replaces a
//! database a server has open and no server starts on a half-restored one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "landlord.lock";

/// A held lock; released when dropped (or when the process ends, however
/// it ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0} is in use by another process (a running server, or a restore)")]
    Busy(String),
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn open(dir: &Path) -> Result<File, LockError> {
    let path = dir.join(LOCK_FILE);
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        })
        .map_err(|source| LockError::Io {
            path: path.display().to_string(),
            source,
        })
}

fn taken(
    dir: &Path,
    file: File,
    result: Result<(), TryLockError>,
) -> Result<DataDirLock, LockError> {
    match result {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(LockError::Busy(dir.display().to_string())),
        Err(TryLockError::Error(source)) => Err(LockError::Io {
            path: dir.join(LOCK_FILE).display().to_string(),
            source,
        }),
    }
}

/// Takes the lock shared (a server: several may share a directory).
pub fn lock_shared(dir: &Path) -> Result<DataDirLock, LockError> {
    let file = open(dir)?;
    let result = file.try_lock_shared();
    taken(dir, file, result)
}

/// Takes the lock alone (a restore: no server may hold it).
pub fn lock_exclusive(dir: &Path) -> Result<DataDirLock, LockError> {
    let file = open(dir)?;
    let result = file.try_lock();
    taken(dir, file, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_share_the_directory_and_a_restore_waits_for_none() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock_shared(dir.path()).unwrap();
        let second = lock_shared(dir.path()).unwrap();
        assert!(matches!(
            lock_exclusive(dir.path()),
            Err(LockError::Busy(_))
        ));
        drop((first, second));
        let restore = lock_exclusive(dir.path()).unwrap();
        assert!(matches!(lock_shared(dir.path()), Err(LockError::Busy(_))));
        drop(restore);
        assert!(lock_shared(dir.path()).is_ok());
    }
}
