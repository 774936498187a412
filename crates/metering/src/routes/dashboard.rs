//! `GET /dashboard/usage-graph`: requests per day.

use axum::extract::State;
use chrono::{NaiveDate, TimeZone, Utc};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Query};
use landlord_core::ids::ApiKeyId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::store;

const DAY_MS: i64 = 24 * 3600 * 1000;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct DailyUsage {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub requests: i64,
}

fn parse_day(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Timestamp::from_millis(Utc.from_utc_datetime(&t).timestamp_millis()))
        .ok_or_else(|| ApiError::invalid_field(field, "is not a date such as 2026-11-22"))
}

fn start_of_day(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.millis() - at.millis().rem_euclid(DAY_MS))
}

/// Which key's requests to count.
enum KeyFilter {
    All,
    One(ApiKeyId),
    /// Not an id of any key: nothing to count.
    NoSuchKey,
}

impl KeyFilter {
    fn from_query(key_id: Option<&str>) -> Self {
        match key_id {
            None | Some("") => KeyFilter::All,
            Some(text) => ApiKeyId::parse(text).map_or(KeyFilter::NoSuchKey, KeyFilter::One),
        }
    }
}

/// Requests per day (UTC), zeros included; filter by key and period.
#[utoipa::path(
    get, path = "/dashboard/usage-graph", tag = "usage",
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
    let end = Timestamp::from_millis(to.millis() + DAY_MS);
    let counts = match KeyFilter::from_query(query.key_id.as_deref()) {
        KeyFilter::NoSuchKey => Vec::new(),
        KeyFilter::All => {
            store::counts_per_bucket(
                state.db.pool(),
                &user.organization_id,
                from,
                end,
                DAY_MS,
                None,
            )
            .await?
        }
        KeyFilter::One(key) => {
            store::counts_per_bucket(
                state.db.pool(),
                &user.organization_id,
                from,
                end,
                DAY_MS,
                Some(&key),
            )
            .await?
        }
    };
    let mut buckets: Vec<DailyUsage> = (0..days)
        .map(|d| DailyUsage {
            date: Timestamp::from_millis(from.millis() + d * DAY_MS).date(),
            requests: 0,
        })
        .collect();
    for (day, count) in counts {
        if let Some(bucket) = usize::try_from(day).ok().and_then(|d| buckets.get_mut(d)) {
            bucket.requests = count;
        }
    }
    Ok(ApiSuccess::ok(buckets))
}
