//! The usage chart a page draws on the server (an SVG the `widgets.html`
//! macro `usage_chart` renders, with the same figures in a table): the
//! month's requests so far, one bar per day, each bar the running total
//! with that day's own requests on top, against the plan's quota (a
//! horizontal line). Knows no feature: a page passes the days and the
//! quota it read.

use serde_json::{json, Value};

use crate::format::thousands;

/// The SVG's coordinate system (it scales to the card's width).
const WIDTH: i64 = 640;
const HEIGHT: i64 = 300;
const LEFT: i64 = 92;
const RIGHT: i64 = 16;
const TOP: i64 = 18;
const BOTTOM: i64 = 48;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// One day's requests (`date` is `YYYY-MM-DD`, UTC).
#[derive(Debug, Clone)]
pub struct Day {
    pub date: String,
    pub requests: i64,
}

/// A round step for about four gridlines up to `top`: 1, 2 or 5 × 10ⁿ.
fn step_for(top: i64) -> i64 {
    let rough = (top.max(4) + 3) / 4;
    let mut magnitude = 1_i64;
    while magnitude.saturating_mul(10) <= rough {
        magnitude = magnitude.saturating_mul(10);
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(magnitude.saturating_mul(10))
}

/// The month's chart: `days` oldest first (the whole month, days to come
/// included), `today` (`YYYY-MM-DD`; later days have no bar yet),
/// `quota` the requests the plan includes this month (`None`: unlimited),
/// `quota_label` what the line is called.
pub fn usage_chart(days: &[Day], today: &str, quota: Option<i64>, quota_label: &str) -> Value {
    let mut total = 0_i64;
    let mut running = Vec::with_capacity(days.len());
    for day in days {
        let so_far = day.date.as_str() <= today;
        let before = total;
        if so_far {
            total = total.saturating_add(day.requests.max(0));
        }
        running.push((day, so_far, before, total));
    }
    let top_value = total.max(quota.unwrap_or(0)).max(1);
    let step = step_for(top_value + top_value / 20);
    let y_max = ((top_value + top_value / 20) / step + 1) * step;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_height;
    let y = |value: i64| base - value.saturating_mul(plot_height) / y_max;
    let count = i64::try_from(days.len()).unwrap_or(1).max(1);
    let slot = plot_width / count;
    let bar_width = (slot * 7 / 10).max(2);
    let bars: Vec<Value> = running
        .iter()
        .enumerate()
        .map(|(i, (day, so_far, before, after))| {
            let i = i64::try_from(i).unwrap_or(0);
            let x = LEFT + i * slot + (slot - bar_width) / 2;
            let (y_before, y_after) = (y(*before), y(*after));
            let label = i % 7 == 0;
            json!({
                "date": day.date,
                "day": day.date.get(8..).unwrap_or("").trim_start_matches('0'),
                "requests": day.requests,
                "requests_text": thousands(&day.requests.to_string()),
                "total": after,
                "total_text": thousands(&after.to_string()),
                "x": x,
                "center": x + bar_width / 2,
                "width": bar_width,
                "before_y": y_before,
                "before_height": base - y_before,
                "day_y": y_after,
                // At least one unit tall, so a day with any request shows.
                "day_height": if day.requests > 0 { (y_before - y_after).max(1) } else { 0 },
                "so_far": so_far,
                "today": day.date == today,
                "label": label,
            })
        })
        .collect();
    let ticks: Vec<Value> = (0..)
        .map(|k| k * step)
        .take_while(|value| *value <= y_max)
        .map(|value| json!({ "y": y(value), "text": thousands(&value.to_string()) }))
        .collect();
    let month = days
        .first()
        .and_then(|d| d.date.get(5..7))
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("");
    let year = days.first().and_then(|d| d.date.get(..4)).unwrap_or("");
    let quota_y = quota.map(y);
    let percent = quota
        .filter(|q| *q > 0)
        .map(|q| total.saturating_mul(100) / q);
    json!({
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "base": base,
        "middle": LEFT + plot_width / 2,
        "bars": bars,
        "ticks": ticks,
        "quota": quota,
        "quota_text": quota.map(|q| thousands(&q.to_string())),
        "quota_y": quota_y,
        "quota_label": quota_label,
        "over": quota.is_some_and(|q| total > q),
        "percent": percent,
        "total": total,
        "total_text": thousands(&total.to_string()),
        "month": format!("{month} {year}"),
        "today": today,
        "first": days.first().map(|d| d.date.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(counts: &[i64]) -> Vec<Day> {
        counts
            .iter()
            .enumerate()
            .map(|(i, requests)| Day {
                date: format!("2026-12-{:02}", i + 1),
                requests: *requests,
            })
            .collect()
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(step_for(1), 1);
        assert_eq!(step_for(10), 5);
        assert_eq!(step_for(1000), 500);
        assert_eq!(step_for(10_500), 5000);
        assert_eq!(step_for(70_000), 20_000);
    }

    #[test]
    fn bars_run_up_to_today_against_the_quota() {
        let mut counts = vec![0; 31];
        counts[0] = 300;
        counts[2] = 1200;
        counts[10] = 50; // after today: not drawn, not counted
        let chart = usage_chart(&month(&counts), "2026-12-03", Some(1000), "Quota");
        assert_eq!(chart["total"], 1500);
        assert_eq!(chart["total_text"], "1,500");
        assert_eq!(chart["quota_text"], "1,000");
        assert_eq!(chart["over"], true);
        assert_eq!(chart["percent"], 150);
        assert_eq!(chart["month"], "December 2026");
        let bars = chart["bars"].as_array().unwrap();
        assert_eq!(bars.len(), 31);
        assert_eq!(bars[2]["today"], true);
        assert_eq!(bars[2]["total_text"], "1,500");
        assert_eq!(bars[10]["so_far"], false);
        // The running total grows; the quota line sits below the top.
        assert!(bars[2]["day_y"].as_i64() < bars[0]["day_y"].as_i64());
        let quota_y = chart["quota_y"].as_i64().unwrap();
        assert!(quota_y > TOP && quota_y < HEIGHT - BOTTOM);
        let ticks = chart["ticks"].as_array().unwrap();
        assert_eq!(ticks[0]["text"], "0");
        assert!(ticks.len() >= 3 && ticks.len() <= 6, "{ticks:?}");
    }

    #[test]
    fn an_empty_unlimited_month_draws_axes() {
        let chart = usage_chart(&month(&[0; 30]), "2026-12-01", None, "Quota");
        assert_eq!(chart["total"], 0);
        assert!(chart["quota_y"].is_null());
        assert!(chart["ticks"].as_array().unwrap().len() >= 2);
    }
}
