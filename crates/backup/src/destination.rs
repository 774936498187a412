//! Where snapshots are kept: a directory or an S3-compatible bucket, both
//! through `object_store`. Each snapshot is two objects, the archive
//! (`{name}.tar.zst`) and its manifest (`{name}.json`, written last: a
//! snapshot without one is incomplete and never listed).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::BackupConfig;
use crate::error::BackupError;
use crate::manifest::{archive_file, is_snapshot_name, manifest_file, StoredManifest};

/// Parts uploaded at once to a bucket, each [`PART_BYTES`].
const PARTS_IN_FLIGHT: usize = 4;
const PART_BYTES: usize = 8 * 1024 * 1024;

/// A destination as written in the configuration or on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine (created when missing).
    Directory(PathBuf),
    /// `s3://bucket/prefix`.
    Bucket { bucket: String, prefix: String },
}

impl Location {
    /// `/path`, `./path`, `file:///path` or `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must name a directory or s3://bucket/prefix".into());
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !valid_bucket {
                return Err(format!(
                    "{bucket:?} is not a bucket name (3 to 63 of a-z, 0-9, '-' and '.')"
                ));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|part| part == ".." || part == ".") {
                return Err("the prefix must not hold '.' or '..' parts".into());
            }
            return Ok(Location::Bucket {
                bucket: bucket.into(),
                prefix,
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err("a file:// URL needs an absolute path (file:///var/backups)".into());
            }
            return Ok(Location::Directory(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err("only directories, file:// and s3:// destinations are supported".into());
        }
        Ok(Location::Directory(PathBuf::from(text)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Directory(path) => write!(f, "{}", path.display()),
            Location::Bucket { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::Bucket { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// An opened destination. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    location: Location,
}

impl Destination {
    /// Opens `location` with the S3 settings of `config` (and the standard
    /// `AWS_*` variables) for a bucket; a directory is created when missing.
    pub fn open(location: &Location, config: &BackupConfig) -> Result<Self, BackupError> {
        let (store, prefix): (Arc<dyn ObjectStore>, ObjectPath) = match location {
            Location::Directory(path) => {
                std::fs::create_dir_all(path)?;
                (
                    Arc::new(LocalFileSystem::new_with_prefix(path)?),
                    ObjectPath::default(),
                )
            }
            Location::Bucket { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if !config.s3_endpoint.is_empty() {
                    builder = builder.with_endpoint(&config.s3_endpoint);
                }
                if !config.s3_region.is_empty() {
                    builder = builder.with_region(&config.s3_region);
                }
                if let Some(id) = &config.s3_access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &config.s3_secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_str());
                }
                if config.s3_allow_http {
                    builder = builder.with_allow_http(true);
                }
                (
                    Arc::new(builder.build()?),
                    ObjectPath::from(prefix.as_str()),
                )
            }
        };
        Ok(Self {
            store,
            prefix,
            location: location.clone(),
        })
    }

    /// Opens the configured destination, when one is set.
    pub fn configured(config: &BackupConfig) -> Result<Option<Self>, BackupError> {
        if config.destination.is_empty() {
            return Ok(None);
        }
        let location = Location::parse(&config.destination).map_err(BackupError::Invalid)?;
        Ok(Some(Self::open(&location, config)?))
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    fn object(&self, file: &str) -> ObjectPath {
        self.prefix.child(file)
    }

    /// Uploads the file at `path` as `file`, in parts (a bucket's multipart
    /// upload; the object appears whole or not at all).
    pub async fn put_file(&self, file: &str, path: &Path) -> Result<(), BackupError> {
        let upload = self.store.put_multipart(&self.object(file)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut source = tokio::fs::File::open(path).await?;
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let read = match source.read(&mut buffer).await {
                Ok(read) => read,
                Err(error) => {
                    let _ = writer.abort().await;
                    return Err(error.into());
                }
            };
            if read == 0 {
                break;
            }
            if let Err(error) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(error.into());
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Writes a small object (a manifest) in one request.
    pub async fn put_bytes(&self, file: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store
            .put(&self.object(file), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Reads a small object (a manifest) whole.
    pub async fn get_bytes(&self, file: &str) -> Result<Bytes, BackupError> {
        Ok(self.store.get(&self.object(file)).await?.bytes().await?)
    }

    /// The object `file` as a stream of chunks, with its size.
    pub async fn stream(
        &self,
        file: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>), BackupError> {
        let result = self.store.get(&self.object(file)).await?;
        let size = result.meta.size;
        Ok((size, result.into_stream()))
    }

    /// The size and SHA-256 of the stored object `file`, read back whole.
    pub async fn digest(&self, file: &str) -> Result<(u64, String), BackupError> {
        let (_, mut stream) = self.stream(file).await?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((bytes, hex::encode(hasher.finalize())))
    }

    /// Downloads `file` to `to`; returns its size and SHA-256.
    pub async fn download(&self, file: &str, to: &Path) -> Result<(u64, String), BackupError> {
        let (_, mut stream) = self.stream(file).await?;
        let mut out = tokio::io::BufWriter::new(tokio::fs::File::create(to).await?);
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        out.into_inner().sync_all().await?;
        Ok((bytes, hex::encode(hasher.finalize())))
    }

    /// Every complete snapshot at the destination (those with a readable
    /// manifest), newest first.
    pub async fn list(&self) -> Result<Vec<StoredManifest>, BackupError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let objects: Vec<_> = self.store.list(prefix).try_collect().await?;
        let mut names: Vec<String> = objects
            .iter()
            .filter_map(|meta| meta.location.filename())
            .filter_map(|file| file.strip_suffix(".json"))
            .filter(|name| is_snapshot_name(name))
            .map(str::to_string)
            .collect();
        names.sort_unstable_by(|a, b| b.cmp(a));
        let mut manifests = Vec::with_capacity(names.len());
        let reads = futures::stream::iter(
            names
                .into_iter()
                .map(|name| async move { (name.clone(), self.manifest(&name).await) }),
        )
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
        for (name, read) in reads {
            match read {
                Ok(manifest) => manifests.push(manifest),
                Err(error) => {
                    tracing::warn!(snapshot = %name, %error, "a snapshot's manifest is unreadable; not listed")
                }
            }
        }
        Ok(manifests)
    }

    /// The stored manifest of the snapshot `name`.
    pub async fn manifest(&self, name: &str) -> Result<StoredManifest, BackupError> {
        if !is_snapshot_name(name) {
            return Err(BackupError::NotFound(name.into()));
        }
        let bytes = match self.get_bytes(&manifest_file(name)).await {
            Err(BackupError::Destination(object_store::Error::NotFound { .. })) => {
                return Err(BackupError::NotFound(name.into()))
            }
            other => other?,
        };
        serde_json::from_slice(&bytes)
            .map_err(|error| BackupError::Damaged(format!("its manifest is unreadable: {error}")))
    }

    /// Removes a snapshot: its manifest first (it is no longer listed),
    /// then its archive.
    pub async fn delete(&self, name: &str) -> Result<(), BackupError> {
        if !is_snapshot_name(name) {
            return Err(BackupError::NotFound(name.into()));
        }
        for file in [manifest_file(name), archive_file(name)] {
            match self.store.delete(&self.object(&file)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_parsed_or_refused_with_a_reason() {
        assert_eq!(
            Location::parse("s3://my-bucket/landlord/prod/").unwrap(),
            Location::Bucket {
                bucket: "my-bucket".into(),
                prefix: "landlord/prod".into()
            }
        );
        assert_eq!(
            Location::parse("/var/backups").unwrap(),
            Location::Directory("/var/backups".into())
        );
        assert_eq!(
            Location::parse("file:///var/backups").unwrap(),
            Location::Directory("/var/backups".into())
        );
        assert!(Location::parse("s3://A").is_err());
        assert!(Location::parse("s3://bucket/../x").is_err());
        assert!(Location::parse("gs://bucket").is_err());
        assert!(Location::parse("file://relative").is_err());
        assert_eq!(
            Location::parse("s3://bucket/p").unwrap().to_string(),
            "s3://bucket/p"
        );
    }
}
