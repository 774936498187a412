//! `/admin/backups`, for platform administrators only: what is configured,
//! the snapshots at the destination and the last attempts
//! (`GET /admin/backups`), a snapshot taken now (`POST /admin/backups`),
//! and a snapshot's archive downloaded
//! (`GET /admin/backups/{name}/download`). The operator console's page
//! (`pages`) calls the same functions.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use landlord_admin::PlatformAdmin;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::IdentityState;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::BackupError;
use crate::manifest::{archive_file, KeysIncluded, StoredManifest, Trigger};
use crate::snapshot::Backups;
use crate::store::{self, RunRow, RunStatus};
use crate::POSTGRES_GUIDE;

/// How long `POST /admin/backups` waits for the snapshot before it answers
/// 202 and lets it finish in the background, when the request timeout
/// allows as much.
pub const WAIT_FOR_SNAPSHOT: Duration = Duration::from_secs(20);

/// An attempt still marked `running` after this long is not shown as
/// running (its instance stopped before it finished).
const RUNNING_AT_MOST: Duration = Duration::from_secs(3600);

/// What the backup routes need: the identity service (who is a platform
/// administrator) and the backups. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct BackupsApi(Arc<ApiInner>);

pub struct ApiInner {
    pub identity: IdentityState,
    pub backups: Backups,
    /// How long "back up now" waits before answering 202.
    pub wait: Duration,
}

impl BackupsApi {
    /// The routes' state; "back up now" waits at most `wait` for the
    /// snapshot (keep it under the request timeout).
    pub fn new(identity: IdentityState, backups: Backups, wait: Duration) -> Self {
        Self(Arc::new(ApiInner {
            identity,
            backups,
            wait,
        }))
    }
}

impl std::ops::Deref for BackupsApi {
    type Target = ApiInner;

    fn deref(&self) -> &ApiInner {
        &self.0
    }
}

impl FromRef<BackupsApi> for IdentityState {
    fn from_ref(state: &BackupsApi) -> Self {
        state.identity.clone()
    }
}

pub fn router() -> OpenApiRouter<BackupsApi> {
    OpenApiRouter::new()
        .routes(routes!(list, back_up_now))
        .routes(routes!(download))
}

/// A snapshot at the destination, as its stored manifest says.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SnapshotView {
    /// `landlord-20261206T191500.123Z`: names the download.
    pub name: String,
    /// When its read began: everything committed before is in it.
    pub created_at: Timestamp,
    /// The archive's size (compressed), in bytes.
    pub archive_bytes: u64,
    /// The database's size (uncompressed), in bytes.
    pub database_bytes: u64,
    /// The archive's SHA-256, hex.
    pub archive_sha256: String,
    /// The database passed `PRAGMA integrity_check` and the archive read
    /// back from the destination matched its checksum.
    pub verified: bool,
    /// Whether the data directory's keys are in it, and how encrypted.
    pub keys: KeysIncluded,
    pub trigger: Trigger,
    /// The Landlord version that took it.
    pub landlord_version: String,
    /// The newest migration of its database.
    pub schema_version: i64,
}

impl From<StoredManifest> for SnapshotView {
    fn from(stored: StoredManifest) -> Self {
        let manifest = stored.manifest;
        Self {
            name: manifest.name,
            created_at: manifest.created_at,
            archive_bytes: stored.archive_bytes,
            database_bytes: manifest.database_bytes,
            archive_sha256: stored.archive_sha256,
            verified: stored.verified,
            keys: manifest.keys,
            trigger: manifest.trigger,
            landlord_version: manifest.landlord_version,
            schema_version: manifest.schema_version,
        }
    }
}

/// The last attempt that succeeded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuccessView {
    /// When it finished.
    pub at: Timestamp,
    pub snapshot: Option<String>,
    /// `scheduled`, `manual` or `command`.
    pub trigger: String,
    pub archive_bytes: Option<i64>,
}

/// The last attempt that failed, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureView {
    /// When it failed.
    pub at: Timestamp,
    /// What went wrong, in words.
    pub error: String,
    /// `scheduled`, `manual` or `command`.
    pub trigger: String,
    /// Where it was writing (no credentials).
    pub destination: String,
}

/// An attempt in progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunningView {
    pub started_at: Timestamp,
    /// `scheduled`, `manual` or `command`.
    pub trigger: String,
}

/// Backups as configured, the snapshots at the destination, the last
/// attempts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupsOverview {
    /// False on PostgreSQL, which is backed up with its own tools
    /// (`guide` says how).
    pub supported: bool,
    /// Where PostgreSQL's backups are explained, when not supported.
    pub guide: Option<String>,
    /// The configured destination (a directory or `s3://bucket/prefix`;
    /// never credentials), or null when none is set.
    pub destination: Option<String>,
    /// Whether this server takes snapshots on a schedule.
    pub scheduled: bool,
    /// The schedule's interval, in seconds.
    pub interval_secs: u64,
    /// How snapshots carry the data directory's keys: `none`,
    /// `passphrase` or `age_recipient`, as configured.
    pub keys: KeysIncluded,
    /// What a restore without the keys loses (when `keys` is `none`).
    pub lost_without_keys: Option<String>,
    /// Complete snapshots at the destination, newest first.
    pub snapshots: Vec<SnapshotView>,
    /// Why the destination could not be listed, when it could not.
    pub destination_error: Option<String>,
    pub last_success: Option<SuccessView>,
    pub last_failure: Option<FailureView>,
    /// The attempt in progress, if any.
    pub running: Option<RunningView>,
}

/// The keys setting as configured.
fn configured_keys(backups: &Backups) -> KeysIncluded {
    let settings = backups.settings();
    if settings.passphrase.is_some() {
        KeysIncluded::Passphrase
    } else if settings.age_recipient.is_some() {
        KeysIncluded::AgeRecipient
    } else {
        KeysIncluded::None
    }
}

/// Backups as configured, what the destination holds, the last success,
/// failure and attempt in progress: `GET /admin/backups` and the operator
/// console's page alike. A destination that cannot be listed gives an
/// empty list and `destination_error`, not a failure.
pub async fn overview(backups: &Backups) -> Result<BackupsOverview, ApiError> {
    let settings = backups.settings();
    let keys = configured_keys(backups);
    let mut overview = BackupsOverview {
        supported: true,
        guide: None,
        destination: backups
            .destination()
            .map(|destination| destination.location().to_string()),
        scheduled: settings.scheduled(),
        interval_secs: settings.interval_secs,
        keys,
        lost_without_keys: (keys == KeysIncluded::None)
            .then(|| crate::keys::LOST_WITHOUT_KEYS.to_string()),
        snapshots: Vec::new(),
        destination_error: None,
        last_success: None,
        last_failure: None,
        running: None,
    };
    if backups.supported().is_err() {
        overview.supported = false;
        overview.guide = Some(POSTGRES_GUIDE.into());
        overview.scheduled = false;
        return Ok(overview);
    }
    if let Some(destination) = backups.destination() {
        match destination.list().await {
            Ok(found) => {
                overview.snapshots = found.into_iter().map(SnapshotView::from).collect();
            }
            Err(error) => {
                tracing::warn!(%error, "the backup destination could not be listed");
                overview.destination_error = Some(error.to_string());
            }
        }
    }
    let db = backups.db();
    overview.last_success = store::last_with_status(db, RunStatus::Succeeded)
        .await?
        .map(|run| SuccessView {
            at: run.finished_at.unwrap_or(run.started_at),
            snapshot: run.snapshot,
            trigger: run.trigger,
            archive_bytes: run.archive_bytes,
        });
    overview.last_failure = store::last_with_status(db, RunStatus::Failed)
        .await?
        .map(|run| FailureView {
            at: run.finished_at.unwrap_or(run.started_at),
            error: run
                .error
                .unwrap_or_else(|| "no reason was recorded".to_string()),
            trigger: run.trigger,
            destination: run.destination,
        });
    let now = Timestamp::now();
    overview.running = store::recent_runs(db, 1)
        .await?
        .into_iter()
        .find(|run: &RunRow| {
            run.status == RunStatus::Running && run.started_at > now.minus(RUNNING_AT_MOST)
        })
        .map(|run| RunningView {
            started_at: run.started_at,
            trigger: run.trigger,
        });
    Ok(overview)
}

/// Backups: what is configured, the snapshots and the last attempts.
#[utoipa::path(
    get, path = "/api/v1/admin/backups", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The configuration, the snapshots at the destination (newest first; `destination_error` says why the list is empty when the destination could not be read), the last success and failure, the attempt in progress. On PostgreSQL `supported` is false and `guide` says how to back it up", body = Envelope<BackupsOverview>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<BackupsApi>,
    _admin: PlatformAdmin,
) -> Result<ApiSuccess<BackupsOverview>, ApiError> {
    Ok(ApiSuccess::ok(overview(&state.backups).await?))
}

/// "Back up now": the snapshot when it finished in time, or the attempt
/// still running.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupNow {
    /// `succeeded` (201, `snapshot` set) or `running` (202: it finishes in
    /// the background; `GET /admin/backups` shows it).
    pub status: String,
    /// When it was asked for.
    pub started_at: Timestamp,
    pub snapshot: Option<SnapshotView>,
}

/// Why "back up now" did not give a snapshot: refused (nothing taken: no
/// destination, PostgreSQL, one already running) or failed (recorded as
/// the last failure).
#[derive(Debug)]
pub enum NowError {
    Refused(BackupError),
    Failed(BackupError),
}

impl NowError {
    /// The reason, in words (an operator's page shows it).
    pub fn reason(&self) -> String {
        match self {
            NowError::Refused(error) | NowError::Failed(error) => error.to_string(),
        }
    }
}

impl From<NowError> for ApiError {
    fn from(error: NowError) -> Self {
        match error {
            NowError::Refused(error) | NowError::Failed(error) => error.into(),
        }
    }
}

/// Takes a snapshot to the configured destination (trigger `manual`) in a
/// task of its own, so that it finishes even when the request ends, and
/// waits for it at most `wait`. Audited as `admin.backup_taken` (with the
/// snapshot's name) or `admin.backup_started` (still running); a refusal
/// takes and records nothing.
pub async fn take_now(
    backups: &Backups,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    wait: Duration,
) -> Result<BackupNow, NowError> {
    backups.supported().map_err(NowError::Refused)?;
    backups
        .configured_destination()
        .map_err(NowError::Refused)?;
    let started_at = Timestamp::now();
    let task = {
        let backups = backups.clone();
        tokio::spawn(async move { backups.take(Trigger::Manual).await })
    };
    let audit = |action: &str| admin.audit(client, action);
    let (now, entry) = match tokio::time::timeout(wait, task).await {
        Ok(Ok(Ok(stored))) => {
            let name = stored.manifest.name.clone();
            (
                BackupNow {
                    status: "succeeded".into(),
                    started_at,
                    snapshot: Some(stored.into()),
                },
                audit("admin.backup_taken").target("backup", &name),
            )
        }
        Ok(Ok(Err(error @ (BackupError::Busy | BackupError::Unsupported(_))))) => {
            return Err(NowError::Refused(error))
        }
        Ok(Ok(Err(error))) => return Err(NowError::Failed(error)),
        Ok(Err(join)) => {
            return Err(NowError::Failed(BackupError::Io(std::io::Error::other(
                join.to_string(),
            ))))
        }
        Err(_) => (
            BackupNow {
                status: "running".into(),
                started_at,
                snapshot: None,
            },
            audit("admin.backup_started"),
        ),
    };
    landlord_audit::record(backups.db().pool(), entry)
        .await
        .map_err(|error| NowError::Failed(error.into()))?;
    Ok(now)
}

/// Back up now: a snapshot of the database to the configured destination.
///
/// Answers 201 with the snapshot once it is written, read back and
/// verified; when that takes longer than the server waits (20 seconds at
/// most, less under a shorter request timeout), 202: the snapshot goes on
/// in the background and `GET /admin/backups` shows it running, then
/// listed (or the failure). A failed snapshot answers 500; its reason is
/// `last_failure` in `GET /admin/backups`.
#[utoipa::path(
    post, path = "/api/v1/admin/backups", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The snapshot, written and verified", body = Envelope<BackupNow>),
        (status = 202, description = "Still running: it finishes in the background", body = Envelope<BackupNow>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 409, description = "A backup is already running, no destination is configured (`backup.destination`), or the database is PostgreSQL (backed up with its own tools); the message says which", body = ErrorEnvelope),
    )
)]
pub async fn back_up_now(
    State(state): State<BackupsApi>,
    admin: PlatformAdmin,
    client: ClientInfo,
) -> Result<ApiSuccess<BackupNow>, ApiError> {
    let now = take_now(&state.backups, &admin, &client, state.wait).await?;
    Ok(if now.snapshot.is_some() {
        ApiSuccess::created(now)
    } else {
        ApiSuccess::accepted(now)
    })
}

/// The archive of the snapshot `name` as a download (`application/zstd`,
/// its length, an attachment named after it), streamed from the
/// destination; audited as `admin.backup_downloaded`. An unknown or
/// malformed name, or no destination, is 404.
pub async fn download_archive(
    backups: &Backups,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    name: &str,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("snapshot");
    let destination = backups.destination().ok_or_else(not_found)?;
    let manifest = match destination.manifest(name).await {
        Ok(manifest) => manifest,
        Err(BackupError::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    };
    let file = archive_file(&manifest.manifest.name);
    let (size, stream) = match destination.stream(&file).await {
        Ok(found) => found,
        Err(BackupError::Destination(object_store::Error::NotFound { .. })) => {
            return Err(not_found())
        }
        Err(error) => return Err(error.into()),
    };
    landlord_audit::record(
        backups.db().pool(),
        admin
            .audit(client, "admin.backup_downloaded")
            .target("backup", &manifest.manifest.name),
    )
    .await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
        .map_err(ApiError::internal)?;
    let body = Body::from_stream(stream.map_err(std::io::Error::other));
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/zstd"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(size)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// Download a snapshot's archive (a zstd-compressed tar: the manifest,
/// the database, and the encrypted keys when configured), for `landlord
/// restore --from FILE`.
#[utoipa::path(
    get, path = "/api/v1/admin/backups/{name}/download", tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The snapshot's name, e.g. `landlord-20261206T191500.123Z`")),
    responses(
        (status = 200, description = "The archive, streamed; `Content-Disposition` names it", body = Vec<u8>, content_type = "application/zstd"),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No snapshot with that name at the configured destination (or none is configured)", body = ErrorEnvelope),
    )
)]
pub async fn download(
    State(state): State<BackupsApi>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    download_archive(&state.backups, &admin, &client, &name).await
}
