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
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use landlord_core::secret::Secret;

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
    /// The bucket's endpoint, as said in messages.
    endpoint: String,
    /// The secrets the bucket's client signs with (the secret access key,
    /// a session token), scrubbed from any message that would hold one.
    secrets: Arc<Vec<Secret<String>>>,
}

impl Destination {
    /// Opens `location` with the S3 settings of `config` (and the standard
    /// `AWS_*` variables) for a bucket; a directory is created when missing.
    pub fn open(location: &Location, config: &BackupConfig) -> Result<Self, BackupError> {
        let mut secrets = Vec::new();
        let mut endpoint = String::new();
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
                endpoint = builder
                    .get_config_value(&object_store::aws::AmazonS3ConfigKey::Endpoint)
                    .unwrap_or_else(|| "AWS S3".into());
                if !config.s3_region.is_empty() {
                    builder = builder.with_region(&config.s3_region);
                }
                if let Some(id) = &config.s3_access_key_id {
                    builder = builder.with_access_key_id(id);
                }
                if let Some(secret) = &config.s3_secret_access_key {
                    builder = builder.with_secret_access_key(secret.expose_str());
                    secrets.push(secret.clone());
                }
                for variable in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
                    if let Ok(value) = std::env::var(variable) {
                        secrets.push(Secret::new(value));
                    }
                }
                secrets.retain(|secret| secret.expose_str().len() >= 4);
                if config.s3_allow_http {
                    builder = builder.with_allow_http(true);
                }
                let store = builder.build().map_err(|error| {
                    BackupError::Bucket(format!(
                        "{location} cannot be opened: {}",
                        scrub(&error.to_string(), &secrets)
                    ))
                })?;
                (Arc::new(store), ObjectPath::from(prefix.as_str()))
            }
        };
        Ok(Self {
            store,
            prefix,
            location: location.clone(),
            endpoint,
            secrets: Arc::new(secrets),
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
        self.prefix.clone().join(file)
    }

    /// Uploads the file at `path` as `file`, in parts (a bucket's multipart
    /// upload; the object appears whole or not at all).
    pub async fn put_file(&self, file: &str, path: &Path) -> Result<(), BackupError> {
        let mut source = tokio::fs::File::open(path).await?;
        let upload = self
            .store
            .put_multipart(&self.object(file))
            .await
            .map_err(|error| self.explain(error))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
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
                return Err(self.explain(error));
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(|error| self.explain(error))?;
        Ok(())
    }

    /// Writes a small object (a manifest) in one request.
    pub async fn put_bytes(&self, file: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.store
            .put(&self.object(file), PutPayload::from(bytes))
            .await
            .map_err(|error| self.explain(error))?;
        Ok(())
    }

    /// Reads a small object (a manifest) whole.
    pub async fn get_bytes(&self, file: &str) -> Result<Bytes, BackupError> {
        let result = self
            .store
            .get(&self.object(file))
            .await
            .map_err(|error| self.explain(error))?;
        result.bytes().await.map_err(|error| self.explain(error))
    }

    /// The object `file` as a stream of chunks, with its size.
    pub async fn stream(
        &self,
        file: &str,
    ) -> Result<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>), BackupError> {
        let result = self
            .store
            .get(&self.object(file))
            .await
            .map_err(|error| self.explain(error))?;
        let size = result.meta.size;
        Ok((size, result.into_stream()))
    }

    /// The size and SHA-256 of the stored object `file`, read back whole.
    pub async fn digest(&self, file: &str) -> Result<(u64, String), BackupError> {
        let (_, mut stream) = self.stream(file).await?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|error| self.explain(error))?
        {
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
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|error| self.explain(error))?
        {
            bytes += chunk.len() as u64;
            hasher.update(&chunk);
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        out.into_inner().sync_all().await?;
        Ok((bytes, hex::encode(hasher.finalize())))
    }

    /// Every complete snapshot at the destination (those with a readable
    /// manifest), newest first. Only the prefix's own objects count, not
    /// those under a deeper prefix (another destination).
    pub async fn list(&self) -> Result<Vec<StoredManifest>, BackupError> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let listed = self
            .store
            .list_with_delimiter(prefix)
            .await
            .map_err(|error| self.explain(error))?;
        let mut names: Vec<String> = listed
            .objects
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
                Err(error) => return Err(self.explain(error)),
            }
        }
        Ok(())
    }

    /// A bucket's failure in words an operator can act on (a refusal with
    /// the service's error code, an endpoint that cannot be reached), or
    /// its first line; a missing object stays [`object_store::Error::NotFound`].
    /// A directory's failure as it is. No message holds a secret: the
    /// service's answer is dropped when it is explained, and scrubbed
    /// otherwise.
    fn explain(&self, error: object_store::Error) -> BackupError {
        let Location::Bucket { bucket, .. } = &self.location else {
            return error.into();
        };
        let text = error.to_string();
        let code = s3_error_code(&text);
        let status = match &error {
            object_store::Error::PermissionDenied { .. } => Some(403),
            object_store::Error::Unauthenticated { .. } => Some(401),
            _ => None,
        };
        let refused = |reason: String| {
            BackupError::Bucket(format!("{} refused the request: {reason}", self.location))
        };
        match (code, status) {
            (Some("SignatureDoesNotMatch"), _) => refused(
                "the secret access key does not match the access key id \
                 (SignatureDoesNotMatch): check backup.s3_secret_access_key \
                 (LANDLORD_BACKUP__S3_SECRET_ACCESS_KEY) or AWS_SECRET_ACCESS_KEY"
                    .into(),
            ),
            (Some(code @ ("InvalidAccessKeyId" | "InvalidClientTokenId")), _) => refused(format!(
                "the service does not know the access key id ({code}): check \
                     backup.s3_access_key_id (LANDLORD_BACKUP__S3_ACCESS_KEY_ID) or \
                     AWS_ACCESS_KEY_ID, and backup.s3_endpoint"
            )),
            (Some(code @ ("ExpiredToken" | "InvalidToken" | "TokenRefreshRequired")), _) => {
                refused(format!(
                    "the session token is expired or invalid ({code}): renew AWS_SESSION_TOKEN"
                ))
            }
            (Some("AccessDenied" | "AllAccessDisabled"), _) | (None, Some(403)) => {
                refused(format!(
                    "the key may not do this ({}): it needs s3:PutObject, s3:GetObject, \
                     s3:ListBucket, s3:DeleteObject and s3:AbortMultipartUpload on the \
                     bucket and prefix",
                    code.unwrap_or("403 Forbidden")
                ))
            }
            (None, Some(_)) => refused(
                "the credentials were not accepted (401 Unauthorized): check \
                 backup.s3_access_key_id and backup.s3_secret_access_key"
                    .into(),
            ),
            (Some("NoSuchBucket"), _) => refused(format!(
                "the bucket {bucket} does not exist (NoSuchBucket): create it (Landlord \
                 never creates one), or check backup.s3_endpoint and backup.s3_region"
            )),
            (
                Some(
                    code @ ("AuthorizationHeaderMalformed"
                    | "PermanentRedirect"
                    | "IllegalLocationConstraintException"),
                ),
                _,
            ) => refused(format!(
                "the bucket {bucket} is in another region ({code}): set backup.s3_region \
                 (LANDLORD_BACKUP__S3_REGION) to its region"
            )),
            _ if matches!(error, object_store::Error::NotFound { .. })
                && !self.holds_a_secret(&text) =>
            {
                error.into()
            }
            _ => match transport_failure(&error) {
                Some(kind) => BackupError::Bucket(format!(
                    "{} cannot be reached at {} ({kind}): check backup.s3_endpoint \
                     (LANDLORD_BACKUP__S3_ENDPOINT) and the network",
                    self.location, self.endpoint
                )),
                None => BackupError::Bucket(format!(
                    "{} failed: {}",
                    self.location,
                    scrub(&text, &self.secrets)
                )),
            },
        }
    }

    fn holds_a_secret(&self, text: &str) -> bool {
        self.secrets
            .iter()
            .any(|secret| text.contains(secret.expose_str()))
    }
}

/// The error code of an S3 error answer (`<Code>NoSuchBucket</Code>`)
/// quoted in `text`, when it is one.
fn s3_error_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let code = &text[start..end];
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
        .then_some(code)
}

/// Whether `error` is an endpoint that could not be reached (after the
/// client's retries), and how: the causes are the HTTP client's.
fn transport_failure(error: &object_store::Error) -> Option<&'static str> {
    use std::io::ErrorKind;
    let causes: Vec<&(dyn std::error::Error + 'static)> =
        std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |cause| {
            cause.source()
        })
        .collect();
    let by_kind =
        causes.iter().find_map(
            |cause| match cause.downcast_ref::<std::io::Error>()?.kind() {
                ErrorKind::ConnectionRefused => Some("connection refused"),
                ErrorKind::TimedOut => Some("timed out"),
                ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Some("unreachable"),
                _ => None,
            },
        );
    by_kind.or_else(|| {
        causes.iter().find_map(|cause| {
            let said = cause.to_string();
            if said.starts_with("dns error") {
                Some("its name does not resolve")
            } else if said.starts_with("tcp connect error") {
                Some("no connection")
            } else if said.contains("operation timed out") {
                Some("timed out")
            } else {
                None
            }
        })
    })
}

/// `text` with every secret replaced by `[redacted]`.
fn scrub(text: &str, secrets: &[Secret<String>]) -> String {
    secrets.iter().fold(text.to_string(), |text, secret| {
        text.replace(secret.expose_str(), "[redacted]")
    })
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

    #[test]
    fn a_bucket_refusal_is_explained_without_the_secret() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let config = BackupConfig {
            s3_endpoint: "http://127.0.0.1:9".into(),
            s3_allow_http: true,
            s3_access_key_id: Some("AKIAEXAMPLE".into()),
            s3_secret_access_key: Some(secret.into()),
            ..BackupConfig::default()
        };
        let location = Location::parse("s3://landlord-backups/prod").unwrap();
        let destination = Destination::open(&location, &config).unwrap();
        let answer = |code: &str| object_store::Error::Generic {
            store: "S3",
            source: format!(
                "Client error with status 403 Forbidden: <?xml version=\"1.0\"?><Error>\
                 <Code>{code}</Code><Message>no</Message></Error>"
            )
            .into(),
        };
        let said = destination
            .explain(answer("SignatureDoesNotMatch"))
            .to_string();
        assert!(said.starts_with("s3://landlord-backups/prod refused the request: "));
        assert!(said.contains("backup.s3_secret_access_key"), "{said}");
        assert!(!said.contains("<Error>"), "{said}");
        let said = destination.explain(answer("NoSuchBucket")).to_string();
        assert!(said.contains("landlord-backups does not exist"), "{said}");
        let said = destination.explain(answer("AccessDenied")).to_string();
        assert!(said.contains("s3:PutObject"), "{said}");
        // An unexplained answer quoting the secret is scrubbed.
        let leaky = object_store::Error::Generic {
            store: "S3",
            source: format!("odd answer: {secret}").into(),
        };
        let said = destination.explain(leaky).to_string();
        assert!(
            !said.contains(secret) && said.contains("[redacted]"),
            "{said}"
        );
        assert!(!format!("{destination:?}").contains(secret));
        // A missing object stays "not found" (a snapshot that is not there).
        let missing = object_store::Error::NotFound {
            path: "prod/x.json".into(),
            source: "<Code>NoSuchKey</Code>".into(),
        };
        assert!(matches!(
            destination.explain(missing),
            BackupError::Destination(object_store::Error::NotFound { .. })
        ));
        assert_eq!(s3_error_code("<Code>NoSuchKey</Code>"), Some("NoSuchKey"));
        assert_eq!(s3_error_code("no code"), None);
    }

    #[tokio::test]
    async fn an_endpoint_that_cannot_be_reached_is_named() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = BackupConfig {
            s3_endpoint: format!("http://127.0.0.1:{port}"),
            s3_allow_http: true,
            s3_access_key_id: Some("AKIAEXAMPLE".into()),
            s3_secret_access_key: Some("not a real secret key".into()),
            ..BackupConfig::default()
        };
        let location = Location::parse("s3://landlord-backups/prod").unwrap();
        let destination = Destination::open(&location, &config).unwrap();
        let said = destination.list().await.unwrap_err().to_string();
        assert_eq!(
            said,
            format!(
                "s3://landlord-backups/prod cannot be reached at http://127.0.0.1:{port} \
                 (connection refused): check backup.s3_endpoint (LANDLORD_BACKUP__S3_ENDPOINT) \
                 and the network"
            )
        );
    }
}
