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

/// Puts the last [`DEFAULT_DAYS`] of `app_id`'s traffic (`traffic`, see
/// [`chart`]) and the apps domain (`apps_domain`) in a page's context.
pub async fn page_context(
    state: &AppsState,
    app_id: &AppId,
    context: &mut landlord_console::Context,
) -> Result<(), ApiError> {
    let days = per_day(state, app_id, DEFAULT_DAYS).await?;
    context.insert("traffic".into(), chart(&days));
    context.insert("apps_domain".into(), state.settings().domain.clone().into());
    Ok(())
}

/// The SVG's coordinate system (it scales to the card's width).
const WIDTH: i64 = 640;
const HEIGHT: i64 = 220;
const LEFT: i64 = 72;
const RIGHT: i64 = 16;
const TOP: i64 = 14;
const BOTTOM: i64 = 40;

/// A round top for an axis holding `value`: 1, 2 or 5 × 10ⁿ above it.
fn axis_top(value: i64) -> i64 {
    let value = value.max(1);
    let mut magnitude = 1_i64;
    loop {
        for m in [1, 2, 5] {
            let top = m * magnitude;
            if top >= value {
                return top;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// How many equal parts an axis up to `top` (1, 2 or 5 × 10ⁿ) is cut in
/// so that each gridline is a round number: 2 × 10ⁿ in four, the others in
/// five (one part of 1 is then cut in one).
fn gridlines(top: i64) -> i64 {
    let mut lead = top.max(1);
    while lead >= 10 && lead % 10 == 0 {
        lead /= 10;
    }
    match (lead, top) {
        (_, 1) => 1,
        (2, _) => 4,
        _ => 5,
    }
}

fn thousands(value: i64) -> String {
    landlord_console::format::thousands(&value.to_string())
}

/// What the app page's traffic card draws: per day, a bar of requests
/// with its errors in front of it, and the mean and highest latency as
/// two lines on their own chart; the figures again as a table.
pub fn chart(days: &[TrafficDayView]) -> serde_json::Value {
    use serde_json::json;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_height;
    let count = i64::try_from(days.len()).unwrap_or(1).max(1);
    let slot = (plot_width / count).max(1);
    let bar_width = (slot * 7 / 10).max(2);
    let requests_top = axis_top(days.iter().map(|d| d.requests).max().unwrap_or(0));
    let latency_top = axis_top(days.iter().map(|d| d.latency_ms_max).max().unwrap_or(0));
    let y = |value: i64, top: i64| base - value.saturating_mul(plot_height) / top;
    let bars: Vec<serde_json::Value> = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let i = i64::try_from(i).unwrap_or(0);
            let x = LEFT + i * slot + (slot - bar_width) / 2;
            let (requests_y, errors_y) =
                (y(day.requests, requests_top), y(day.errors, requests_top));
            json!({
                "date": day.date,
                "day": day.date.get(8..).unwrap_or("").trim_start_matches('0'),
                // Every seventh day, and the last unless a label is near.
                "label": i % 7 == 0 || (i == count - 1 && i % 7 >= 3),
                "x": x,
                "center": x + bar_width / 2,
                "width": bar_width,
                "requests_y": requests_y,
                "requests_height": if day.requests > 0 { (base - requests_y).max(1) } else { 0 },
                "errors_y": errors_y,
                "errors_height": if day.errors > 0 { (base - errors_y).max(1) } else { 0 },
                "requests_text": thousands(day.requests),
                "errors_text": thousands(day.errors),
                "mean_text": thousands(day.latency_ms_mean),
                "max_text": thousands(day.latency_ms_max),
            })
        })
        .collect();
    let points = |value: fn(&TrafficDayView) -> i64| -> String {
        days.iter()
            .enumerate()
            .map(|(i, day)| {
                let i = i64::try_from(i).unwrap_or(0);
                let x = LEFT + i * slot + slot / 2;
                format!("{x},{}", y(value(day), latency_top))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ticks = |top: i64| -> Vec<serde_json::Value> {
        let parts = gridlines(top);
        (0..=parts)
            .map(|k| top * k / parts)
            .map(|value| json!({ "y": y(value, top), "text": thousands(value) }))
            .collect()
    };
    json!({
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "base": base,
        "middle": LEFT + plot_width / 2,
        "bars": bars,
        "requests_ticks": ticks(requests_top),
        "latency_ticks": ticks(latency_top),
        "mean_points": points(|d| d.latency_ms_mean),
        "max_points": points(|d| d.latency_ms_max),
        "requests": thousands(days.iter().map(|d| d.requests).sum()),
        "errors": thousands(days.iter().map(|d| d.errors).sum()),
        "days": days.len(),
        "first": days.first().map(|d| d.date.clone()),
        "last": days.last().map(|d| d.date.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, requests: i64, errors: i64, mean: i64, max: i64) -> TrafficDayView {
        TrafficDayView {
            date: date.into(),
            requests,
            errors,
            latency_ms_mean: mean,
            latency_ms_max: max,
        }
    }

    #[test]
    fn days_are_bounded() {
        assert_eq!(days_of(&TrafficQuery { days: None }).ok(), Some(30));
        assert_eq!(days_of(&TrafficQuery { days: Some(90) }).ok(), Some(90));
        assert!(days_of(&TrafficQuery { days: Some(0) }).is_err());
        assert!(days_of(&TrafficQuery { days: Some(91) }).is_err());
    }

    #[test]
    fn the_chart_draws_requests_errors_and_latency() {
        let chart = chart(&[
            day("2026-12-05", 0, 0, 0, 0),
            day("2026-12-06", 1_200, 30, 12, 480),
        ]);
        assert_eq!(chart["requests"], "1,200");
        assert_eq!(chart["errors"], "30");
        let bars = chart["bars"].as_array().unwrap();
        assert_eq!(bars[0]["requests_height"], 0);
        let (requests, errors) = (
            bars[1]["requests_height"].as_i64().unwrap(),
            bars[1]["errors_height"].as_i64().unwrap(),
        );
        assert!(requests > errors && errors >= 1, "{requests} {errors}");
        assert_eq!(chart["latency_ticks"][5]["text"], "500");
        assert_eq!(chart["latency_ticks"][1]["text"], "100");
        assert_eq!(chart["requests_ticks"][1]["text"], "500");
        assert_eq!((gridlines(1), gridlines(20), gridlines(100)), (1, 4, 5));
        assert_eq!(axis_top(1_200), 2_000);
        assert!(chart["max_points"].as_str().unwrap().contains(' '));
    }
}
