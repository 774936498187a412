//! `/admin/jobs`: background jobs (mails among them: kind `mail.send`)
//! that used up their attempts, and putting them back in the queue.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::ids::JobId;
use landlord_core::{ApiError, Timestamp};
use landlord_jobs::store::{self as jobs_store, JobStatus, JobView};
use landlord_payments::routes::PaymentsState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{PlatformAdmin, LIST_LIMIT};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    /// `dead`, `pending`, `running` or `done`; default `dead`.
    pub status: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobSummary {
    pub id: JobId,
    /// What the job does, e.g. `mail.send` (a mail), `payments.process_event`.
    pub kind: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When it runs next (pending), or last ran.
    pub run_at: Timestamp,
}

impl From<JobView> for JobSummary {
    fn from(job: JobView) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            status: job.status,
            attempts: job.attempts,
            last_error: job.last_error,
            run_at: job.run_at,
        }
    }
}

/// Jobs with `status` (`None`: dead), most recently changed first, at
/// most 200: `GET /admin/jobs` and the operator console alike.
pub async fn jobs(
    state: &PaymentsState,
    status: Option<&str>,
) -> Result<Vec<JobSummary>, ApiError> {
    let status = match status {
        None => JobStatus::Dead,
        Some(text) => JobStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_field("status", "must be dead, pending, running or done")
        })?,
    };
    let rows = jobs_store::with_status(&state.db, status, LIST_LIMIT).await?;
    Ok(rows.into_iter().map(JobSummary::from).collect())
}

/// Background jobs and mails with a status (default: dead-lettered).
#[utoipa::path(
    get, path = "/api/v1/admin/jobs", tag = "admin",
    security(("bearer" = [])),
    params(JobFilter),
    responses(
        (status = 200, description = "Jobs, most recently changed first (at most 200)", body = Envelope<Vec<JobSummary>>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 422, description = "Unknown `status`", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<PaymentsState>,
    _admin: PlatformAdmin,
    Query(filter): Query<JobFilter>,
) -> Result<ApiSuccess<Vec<JobSummary>>, ApiError> {
    Ok(ApiSuccess::ok(
        jobs(&state, filter.status.as_deref()).await?,
    ))
}

/// Queues a dead job again with fresh attempts (audited as
/// `admin.job_retried`); 404 for any other id. The API's retry and the
/// operator console's.
pub async fn retry_job(
    state: &PaymentsState,
    admin: &PlatformAdmin,
    client: &ClientInfo,
    id: &str,
) -> Result<JobId, ApiError> {
    let not_found = || ApiError::not_found("dead job");
    let id = JobId::parse(id).ok_or_else(not_found)?;
    if !jobs_store::replay(&state.db, &id).await? {
        return Err(not_found());
    }
    landlord_audit::record(
        state.db.pool(),
        admin.audit(client, "admin.job_retried").target("job", &id),
    )
    .await?;
    state.identity.jobs.notify_one();
    Ok(id)
}

/// Queue a dead-lettered job (or mail) again.
#[utoipa::path(
    post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 202, description = "Queued again", body = Envelope<Object>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 403, description = "Not a platform administrator", body = ErrorEnvelope),
        (status = 404, description = "No dead job with that id", body = ErrorEnvelope),
    )
)]
pub async fn retry(
    State(state): State<PaymentsState>,
    admin: PlatformAdmin,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<serde_json::Value>, ApiError> {
    let id = retry_job(&state, &admin, &client, &id).await?;
    Ok(ApiSuccess::accepted(
        serde_json::json!({ "id": id, "status": "pending" }),
    ))
}
