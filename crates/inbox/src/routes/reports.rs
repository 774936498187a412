//! `/inbox/reports`, `/inbox/reports.csv`: the inbox's figures per day.

use crate::permissions::needs;
use crate::reports::{self, Report, ReportRange};
use crate::InboxState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::Authorized;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The first day (UTC), `YYYY-MM-DD`; default 29 days before `to`.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2026-12-01")]
    pub from: Option<String>,
    /// The last day (UTC), `YYYY-MM-DD`, included; default today. Not
    /// before `from`, and at most 366 days after it.
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", example = "2026-12-07")]
    pub to: Option<String>,
    /// `agent`, `label` or `channel`; absent: the whole organization.
    #[param(pattern = r"^(agent|label|channel)?$")]
    pub group_by: Option<String>,
}

impl ReportQuery {
    fn range(&self) -> Result<ReportRange, ApiError> {
        ReportRange::parse(
            self.from.as_deref(),
            self.to.as_deref(),
            self.group_by.as_deref(),
            Timestamp::now(),
        )
    }
}

/// Conversations opened and resolved, first response and resolution times
/// (median and p90) per day, for the organization or by agent, label or
/// channel.
#[utoipa::path(
    get, path = "/api/v1/inbox/reports", tag = "Inbox",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report: a group per agent, label or channel (one when not grouped), a day each", body = Envelope<Report>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 422, description = "`from`, `to` or `group_by` is invalid (`details.fields` names it): a bad date, `from` after `to`, more than 366 days, an unknown grouping", body = ErrorEnvelope),
    )
)]
pub async fn report(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Query(query): Query<ReportQuery>,
) -> Result<ApiSuccess<Report>, ApiError> {
    let range = query.range()?;
    let report = reports::report(&state.db, &user.organization_id, range).await?;
    Ok(ApiSuccess::ok(report))
}

/// The same report as CSV: a row per group and day.
#[utoipa::path(
    get, path = "/api/v1/inbox/reports.csv", tag = "Inbox",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report as CSV (header: date, group, opened, resolved, first response count, median and p90 in seconds, resolution count, median and p90 in seconds)", body = String, content_type = "text/csv"),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 422, description = "`from`, `to` or `group_by` is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn report_csv(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let range = query.range()?;
    let report = reports::report(&state.db, &user.organization_id, range).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"inbox-report.csv\"",
            ),
        ],
        reports::csv(&report),
    )
        .into_response())
}
