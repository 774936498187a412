//! An app's traffic through the gateway, per day: requests, errors (5xx,
//! the gateway's own 502 and 504 included) and latency, for its
//! publisher's developers (the API and the app's page).

use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ids::AppId;
use crate::registry;
use crate::store::traffic;
use crate::AppsState;

/// Days shown when none are asked for.
pub const DEFAULT_DAYS: u32 = 30;

/// The most days one answer covers.
pub const MAX_DAYS: u32 = 90;

const DAY_MS: i64 = 86_400_000;

/// `GET /apps/{id}/traffic`'s query.
#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrafficQuery {
    /// Days to cover, today (UTC) included: 1 to 90 (default 30).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<u32>,
}

/// One day (UTC) of an app's traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrafficDayView {
    /// The day, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date: String,
    /// Requests the gateway answered (refused ones — 429 — not included).
    pub requests: i64,
    /// Requests answered 5xx, the gateway's own 502 and 504 included.
    pub errors: i64,
    /// Mean latency in milliseconds (0 on a day without requests).
    pub latency_ms_mean: i64,
    /// Highest latency in milliseconds.
    pub latency_ms_max: i64,
}

/// An app's traffic, one entry per day, oldest first (days without
/// requests included, with zeros).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AppTrafficView {
    pub app_id: AppId,
    pub days: Vec<TrafficDayView>,
}

/// The checked number of days of `query`.
pub fn days_of(query: &TrafficQuery) -> Result<u32, ApiError> {
    match query.days {
        None => Ok(DEFAULT_DAYS),
        Some(days) if (1..=MAX_DAYS).contains(&days) => Ok(days),
        Some(_) => Err(ApiError::invalid_field(
            "days",
            format!("must be from 1 to {MAX_DAYS}"),
        )),
    }
}

/// The last `days` days of the organization's app `id` (404 for another
/// organization's).
pub async fn of_app(
    state: &AppsState,
    organization_id: &OrganizationId,
    id: &str,
    days: u32,
) -> Result<AppTrafficView, ApiError> {
    let app = registry::own(state, organization_id, id).await?;
    let days = per_day(state, &app.id, days).await?;
    Ok(AppTrafficView {
        app_id: app.id,
        days,
    })
}

/// The last `days` days of `app_id`'s traffic, today included.
pub async fn per_day(
    state: &AppsState,
    app_id: &AppId,
    days: u32,
) -> Result<Vec<TrafficDayView>, sqlx::Error> {
    let now = Timestamp::now().millis();
    let today = now - now.rem_euclid(DAY_MS);
    let from = today - i64::from(days.max(1) - 1) * DAY_MS;
    let to = today + DAY_MS;
    let rows = traffic::traffic_per_day(
        state.db.pool(),
        app_id,
        Timestamp::from_millis(from),
        Timestamp::from_millis(to),
    )
    .await?;
    Ok((0..i64::from(days.max(1)))
        .map(|day| {
            let date = Timestamp::from_millis(from + day * DAY_MS).rfc3339()[..10].to_string();
            match rows.iter().find(|row| row.day == day) {
                Some(row) => TrafficDayView {
                    date,
                    requests: row.requests,
                    errors: row.errors,
                    latency_ms_mean: if row.requests > 0 {
                        row.latency_ms_total / row.requests
                    } else {
                        0
                    },
                    latency_ms_max: row.latency_ms_max,
                },
                None => TrafficDayView {
                    date,
                    requests: 0,
                    errors: 0,
                    latency_ms_mean: 0,
                    latency_ms_max: 0,
                },
            }
        })
        .collect())
}
