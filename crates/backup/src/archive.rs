//! The snapshot's file: a tar of `manifest.json`, `keys.age` (when the keys
//! travel) and `landlord.db`, compressed with zstd (with its frame
//! checksum). Written and read with blocking I/O: callers run these on a
//! blocking thread.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::BackupError;
use crate::manifest::{Manifest, FORMAT};

const MANIFEST_ENTRY: &str = "manifest.json";
const KEYS_ENTRY: &str = "keys.age";
const DATABASE_ENTRY: &str = "landlord.db";

/// zstd's level: 3 packs a database at hundreds of MB/s on one core with
/// most of the gain of higher levels.
const LEVEL: i32 = 3;

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the byte count and the SHA-256 (hex).
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The size and SHA-256 (hex) of a file.
pub fn digest_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut hashing = Hashing::new(io::sink());
    io::copy(&mut file, &mut hashing)?;
    let (_, bytes, sha256) = hashing.finish();
    Ok((bytes, sha256))
}

/// Packs `database` (and the encrypted `keys`) with `manifest` into
/// `out`; returns the archive's size and SHA-256.
pub fn write(
    manifest: &Manifest,
    database: &Path,
    keys: Option<&[u8]>,
    out: &Path,
) -> Result<(u64, String), BackupError> {
    let file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    let hashing = Hashing::new(file);
    let mut encoder = zstd::Encoder::new(hashing, LEVEL)?;
    encoder.include_checksum(true)?;
    let mut tar = tar::Builder::new(encoder);
    let manifest_json = serde_json::to_vec_pretty(manifest)
        .map_err(|error| BackupError::Invalid(error.to_string()))?;
    append_bytes(&mut tar, MANIFEST_ENTRY, &manifest_json)?;
    if let Some(keys) = keys {
        append_bytes(&mut tar, KEYS_ENTRY, keys)?;
    }
    let mut db = File::open(database)?;
    tar.append_file(DATABASE_ENTRY, &mut db)?;
    let encoder = tar.into_inner()?;
    let hashing = encoder.finish()?;
    let (mut file, bytes, sha256) = hashing.finish();
    file.flush()?;
    file.into_inner()
        .map_err(|error| BackupError::Io(error.into_error()))?
        .sync_all()?;
    Ok((bytes, sha256))
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// An archive unpacked into a directory, its database checked against
/// the manifest.
#[derive(Debug)]
pub struct Unpacked {
    pub manifest: Manifest,
    /// The database file (in the directory given to [`unpack`]).
    pub database: PathBuf,
    /// The encrypted keys, when the snapshot carries them.
    pub keys: Option<Vec<u8>>,
}

/// Unpacks the archive at `archive` into `dir`: reads the manifest, the
/// keys and the database (written as `dir/landlord.db`), and refuses an
/// archive whose database does not match the manifest's size and
/// checksum, whose compression or tar framing is damaged, or that holds
/// anything else.
pub fn unpack(archive: &Path, dir: &Path) -> Result<Unpacked, BackupError> {
    let file = BufReader::with_capacity(1 << 20, File::open(archive)?);
    let decoder = zstd::Decoder::new(file)?;
    let mut tar = tar::Archive::new(decoder);
    let mut manifest: Option<Manifest> = None;
    let mut keys = None;
    let mut database = None;
    let entries = tar.entries().map_err(damaged)?;
    for entry in entries {
        let mut entry = entry.map_err(damaged)?;
        let path = entry
            .path()
            .map_err(damaged)?
            .to_string_lossy()
            .into_owned();
        match path.as_str() {
            MANIFEST_ENTRY if manifest.is_none() => {
                let mut json = Vec::new();
                entry
                    .by_ref()
                    .take(1 << 20)
                    .read_to_end(&mut json)
                    .map_err(damaged)?;
                let read: Manifest = serde_json::from_slice(&json).map_err(|error| {
                    BackupError::Damaged(format!("its manifest is unreadable: {error}"))
                })?;
                if read.format != FORMAT {
                    return Err(BackupError::Invalid(format!(
                        "the snapshot's format {} is not one this version reads ({FORMAT})",
                        read.format
                    )));
                }
                manifest = Some(read);
            }
            KEYS_ENTRY if manifest.is_some() && keys.is_none() => {
                let mut bytes = Vec::new();
                entry
                    .by_ref()
                    .take(1 << 20)
                    .read_to_end(&mut bytes)
                    .map_err(damaged)?;
                keys = Some(bytes);
            }
            DATABASE_ENTRY if manifest.is_some() && database.is_none() => {
                let path = dir.join(DATABASE_ENTRY);
                let out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
                let mut hashing = Hashing::new(out);
                io::copy(&mut entry, &mut hashing).map_err(damaged)?;
                let (mut out, bytes, sha256) = hashing.finish();
                out.flush()?;
                let expected = manifest
                    .as_ref()
                    .map(|m| (m.database_bytes, &m.database_sha256));
                if expected != Some((bytes, &sha256)) {
                    return Err(BackupError::Damaged(
                        "its database does not match the manifest's size and SHA-256".into(),
                    ));
                }
                database = Some(path);
            }
            other => {
                return Err(BackupError::Damaged(format!(
                    "it holds an unexpected entry {other:?}"
                )))
            }
        }
    }
    // Read to the end of the compressed stream, so that zstd checks its
    // frame checksum over the whole archive (tar stops at its end marker).
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(damaged)?;
    match (manifest, database) {
        (Some(manifest), Some(database)) => Ok(Unpacked {
            manifest,
            database,
            keys,
        }),
        _ => Err(BackupError::Damaged(
            "it lacks its manifest or its database".into(),
        )),
    }
}

fn damaged(error: io::Error) -> BackupError {
    BackupError::Damaged(format!("it cannot be read ({error})"))
}
