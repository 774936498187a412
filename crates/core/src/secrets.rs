//! Secrets the operator did not configure are generated once and kept in the
//! data directory, so that a fresh `cargo run --release` works with no set-up
//! and restarts keep sessions valid.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Where a generated secret came from, so startup can warn about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    LoadedFrom(PathBuf),
    GeneratedAt(PathBuf),
}

/// Returns the configured secret, or the one kept in `data_dir/secrets/name`,
/// generating 32 random bytes (hex) there on first use.
pub fn resolve_secret(
    configured: Option<&str>,
    data_dir: &Path,
    name: &str,
) -> std::io::Result<(String, SecretSource)> {
    if let Some(value) = configured {
        return Ok((value.to_string(), SecretSource::Configured));
    }
    let dir = data_dir.join("secrets");
    let path = dir.join(name);
    if path.exists() {
        let value = fs::read_to_string(&path)?.trim().to_string();
        if value.len() >= 32 {
            return Ok((value, SecretSource::LoadedFrom(path)));
        }
    }
    fs::create_dir_all(&dir)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value = hex::encode(bytes);
    write_private(&path, &value)?;
    Ok((value, SecretSource::GeneratedAt(path)))
}

/// Writes a file readable by its owner only (mode 0600), durably.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = resolve_secret(None, dir.path(), "key").unwrap();
        assert!(matches!(source, SecretSource::GeneratedAt(_)));
        assert_eq!(first.len(), 64);
        let (second, source) = resolve_secret(None, dir.path(), "key").unwrap();
        assert!(matches!(source, SecretSource::LoadedFrom(_)));
        assert_eq!(first, second);
    }

    #[test]
    fn a_configured_secret_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (value, source) =
            resolve_secret(Some("x".repeat(40).as_str()), dir.path(), "key").unwrap();
        assert_eq!(source, SecretSource::Configured);
        assert_eq!(value.len(), 40);
        assert!(!dir.path().join("secrets").exists());
    }
}
