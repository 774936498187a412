//! `GET /dashboard/usage-graph`: requests per day.

use axum::extract::State;
use chrono::{NaiveDate, TimeZone, Utc};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::IdentityState;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::daily::{requests_by_day, start_of_day, DailyUsage, KeyFilter, DAY_MS};

const MAX_GRAPH_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GraphQuery {
    /// First day, `YYYY-MM-DD` (UTC); default 29 days before `to`; at
    /// most 366 days before `to`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD` (UTC), inclusive; default today.
    #[param(format = Date)]
    pub to: Option<String>,
    /// Only this API key.
    pub key_id: Option<String>,
}

fn parse_day(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Timestamp::from_millis(Utc.from_utc_datetime(&t).timestamp_millis()))
        .ok_or_else(|| ApiError::invalid_field(field, "is not a date such as 2026-11-22"))
}

/// Requests per day (UTC), zeros included; filter by key and period.
#[utoipa::path(
    get, path = "/api/v1/dashboard/usage-graph", tag = "usage",
    security(("bearer" = [])),
    params(GraphQuery),
    responses(
        (status = 200, description = "Daily buckets, oldest first", body = Envelope<Vec<DailyUsage>>),
        (status = 422, description = "Bad dates or a range over 366 days", body = ErrorEnvelope),
    )
)]
pub async fn usage_graph(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewDashboard>,
    Query(query): Query<GraphQuery>,
) -> Result<ApiSuccess<Vec<DailyUsage>>, ApiError> {
    let to = match query.to.as_deref() {
        Some(text) => parse_day("to", text)?,
        None => start_of_day(Timestamp::now()),
    };
    let from = match query.from.as_deref() {
        Some(text) => parse_day("from", text)?,
        None => Timestamp::from_millis(to.millis() - 29 * DAY_MS),
    };
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    let days = (to.millis() - from.millis()) / DAY_MS + 1;
    if days > MAX_GRAPH_DAYS {
        return Err(ApiError::invalid_field(
            "from",
            format!("the range is at most {MAX_GRAPH_DAYS} days"),
        ));
    }
    let key = KeyFilter::from_query(query.key_id.as_deref());
    let buckets = requests_by_day(&state.db, &user.organization_id, from, to, &key).await?;
    Ok(ApiSuccess::ok(buckets))
}
