//! The inbox's reports (`/o/{organization_id}/inbox/reports`): for a
//! range of days and an optional grouping (agent, label, channel), the
//! conversations opened and resolved per day and the first response and
//! resolution times (median, p90) per day as charts drawn on the server
//! (SVG, no script), a summary row per group over the whole range, a
//! table of days per group, and the same figures as CSV
//! (`…/inbox/reports.csv`). Everyone who uses the inbox sees them, as
//! with `GET /inbox/reports`; the figures come from `reports`.

use std::collections::HashMap;

use super::inbox::member_names;
use super::Pages;
use crate::reports::{self, Durations, GroupBy, GroupTotals, Report, ReportRange};
use crate::store as inbox_store;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use landlord_console::{
    api, base, encode, member, refusal, FormErrors, Gate, Page, PageError, Visitor,
};
use landlord_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/inbox/reports", get(reports_page))
        .route("/o/{organization_id}/inbox/reports.csv", get(reports_csv))
}

/// The form: `from`, `to` (`YYYY-MM-DD`), `group_by` (empty: none).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ReportForm {
    from: String,
    to: String,
    group_by: String,
}

impl ReportForm {
    fn range(&self) -> Result<ReportRange, ApiError> {
        let given = |text: &str| Some(text.trim().to_string()).filter(|t| !t.is_empty());
        ReportRange::parse(
            given(&self.from).as_deref(),
            given(&self.to).as_deref(),
            given(&self.group_by).as_deref(),
            Timestamp::now(),
        )
    }

    /// The query string of `range` (what the CSV link and quick ranges use).
    fn query(range: &ReportRange) -> String {
        let mut query = format!("from={}&to={}", range.from, range.to);
        if let Some(group_by) = range.group_by {
            query.push_str(&format!("&group_by={}", encode(group_by.as_str())));
        }
        query
    }
}

// ---- durations in words ----------------------------------------------------------------

/// A duration as people read it: "45 s", "12 min 5 s", "3 h 20 min",
/// "2 d 4 h"; "—" for none.
fn duration_text(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else {
        return "—".to_string();
    };
    if seconds < 1.0 {
        return "under 1 s".to_string();
    }
    let total = seconds.round() as i64;
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let pair = |a: i64, a_unit: &str, b: i64, b_unit: &str| {
        if b == 0 {
            format!("{a} {a_unit}")
        } else {
            format!("{a} {a_unit} {b} {b_unit}")
        }
    };
    if days > 0 {
        pair(days, "d", hours, "h")
    } else if hours > 0 {
        pair(hours, "h", minutes, "min")
    } else if minutes > 0 {
        pair(minutes, "min", secs, "s")
    } else {
        format!("{secs} s")
    }
}

fn durations_json(durations: &Durations) -> Value {
    json!({
        "count": durations.count,
        "median": duration_text(durations.median_seconds),
        "p90": duration_text(durations.p90_seconds),
    })
}

// ---- charts -------------------------------------------------------------------------

/// The charts' coordinate system (the SVG scales to the card's width).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 46.0;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// "2 Nov" from `2026-11-02`.
fn short_date(date: &str) -> String {
    let month = date
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("");
    let day = date.get(8..).unwrap_or("").trim_start_matches('0');
    format!("{day} {month}")
}

/// A round step for about four gridlines up to `top`: 1, 2 or 5 × 10ⁿ.
fn step_for(top: f64) -> f64 {
    let rough = (top / 4.0).max(f64::MIN_POSITIVE);
    let magnitude = 10_f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(magnitude * 10.0)
}

/// Gridlines from 0 to at least `top` (never below `minimum`): the axis'
/// top and the ticks' values.
fn axis(top: f64, minimum: f64) -> (f64, Vec<f64>) {
    let top = top.max(minimum);
    let step = step_for(top);
    let y_max = (top / step).ceil() * step;
    let ticks = (0..)
        .map(|k| f64::from(k) * step)
        .take_while(|v| *v <= y_max + step / 1000.0)
        .collect();
    (y_max, ticks)
}

/// A tick's figure: no trailing zeros ("1.5", "2", "0.25").
fn figure(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What every chart shares: the frame, the x axis' day labels.
fn frame(days: &[&str], y_title: &str) -> (serde_json::Map<String, Value>, f64) {
    let count = days.len().max(1) as f64;
    let slot = (WIDTH - LEFT - RIGHT) / count;
    // About six dates under the axis, whatever the range.
    let every = days.len().div_ceil(6).max(1);
    let labels: Vec<Value> = days
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, date)| {
            json!({ "x": round(LEFT + slot * (i as f64 + 0.5)), "text": short_date(date) })
        })
        .collect();
    let mut chart = serde_json::Map::new();
    chart.insert("width".into(), WIDTH.into());
    chart.insert("height".into(), HEIGHT.into());
    chart.insert("left".into(), LEFT.into());
    chart.insert("right".into(), (WIDTH - RIGHT).into());
    chart.insert("top".into(), TOP.into());
    chart.insert("base".into(), (HEIGHT - BOTTOM).into());
    chart.insert(
        "middle".into(),
        round(LEFT + (WIDTH - LEFT - RIGHT) / 2.0).into(),
    );
    chart.insert("labels".into(), labels.into());
    chart.insert("y_title".into(), y_title.into());
    chart.insert(
        // Turned a quarter: x is minus the middle of the y axis.
        "y_title_x".into(),
        (-round((TOP + HEIGHT - BOTTOM) / 2.0)).into(),
    );
    (chart, slot)
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn y_of(value: f64, y_max: f64) -> f64 {
    let plot = HEIGHT - BOTTOM - TOP;
    round(HEIGHT - BOTTOM - value / y_max * plot)
}

/// Opened and resolved per day: two bars a day.
fn counts_chart(report: &Report) -> Value {
    let Some(group) = report.groups.first() else {
        return Value::Null;
    };
    let dates: Vec<&str> = group.days.iter().map(|d| d.date.as_str()).collect();
    let (mut chart, slot) = frame(&dates, "Conversations");
    let top = group
        .days
        .iter()
        .map(|d| d.opened.max(d.resolved))
        .max()
        .unwrap_or(0) as f64;
    let (y_max, ticks) = axis(top, 4.0);
    let base = HEIGHT - BOTTOM;
    let bar = (slot * 0.4).max(1.0);
    let bars: Vec<Value> = group
        .days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let x = LEFT + slot * i as f64 + (slot - 2.0 * bar) / 2.0;
            let height = |n: u64| {
                if n == 0 {
                    0.0
                } else {
                    round((base - y_of(n as f64, y_max)).max(1.5))
                }
            };
            json!({
                "date": day.date,
                "opened": day.opened,
                "resolved": day.resolved,
                "opened_x": round(x),
                "resolved_x": round(x + bar),
                "width": round(bar),
                "opened_y": round(base - height(day.opened)),
                "opened_height": height(day.opened),
                "resolved_y": round(base - height(day.resolved)),
                "resolved_height": height(day.resolved),
                "hit_x": round(LEFT + slot * i as f64),
                "hit_width": round(slot),
            })
        })
        .collect();
    chart.insert("bars".into(), bars.into());
    chart.insert(
        "ticks".into(),
        ticks
            .iter()
            .map(|v| json!({ "y": y_of(*v, y_max), "text": figure(*v) }))
            .collect::<Vec<_>>()
            .into(),
    );
    chart.into()
}

/// The unit a duration axis counts in, for its largest value (seconds).
fn unit_for(top: f64) -> (f64, &'static str, &'static str) {
    if top < 120.0 {
        (1.0, "s", "seconds")
    } else if top < 2.0 * 3600.0 {
        (60.0, "min", "minutes")
    } else if top < 2.0 * 86_400.0 {
        (3600.0, "h", "hours")
    } else {
        (86_400.0, "d", "days")
    }
}

/// A duration's median and p90 per day: two lines, broken on days with
/// none (a dot marks each day that has one).
fn durations_chart(report: &Report, pick: fn(&reports::ReportDay) -> &Durations) -> Value {
    let Some(group) = report.groups.first() else {
        return Value::Null;
    };
    let top = group
        .days
        .iter()
        .filter_map(|d| pick(d).p90_seconds.or(pick(d).median_seconds))
        .fold(0.0, f64::max);
    let (unit, unit_short, unit_name) = unit_for(top);
    let dates: Vec<&str> = group.days.iter().map(|d| d.date.as_str()).collect();
    let (mut chart, slot) = frame(&dates, &format!("Time, {unit_name}"));
    let (y_max, ticks) = axis(top / unit, 1.0);
    let mut median = String::new();
    let mut p90 = String::new();
    let mut previous = false;
    let mut points = Vec::new();
    for (i, day) in group.days.iter().enumerate() {
        let durations = pick(day);
        let x = round(LEFT + slot * (i as f64 + 0.5));
        match (durations.median_seconds, durations.p90_seconds) {
            (Some(m), Some(p)) => {
                let (my, py) = (y_of(m / unit, y_max), y_of(p / unit, y_max));
                let step = if previous { 'L' } else { 'M' };
                median.push_str(&format!("{step}{x} {my} "));
                p90.push_str(&format!("{step}{x} {py} "));
                previous = true;
                points.push(json!({
                    "x": x, "median_y": my, "p90_y": py, "date": day.date,
                    "count": durations.count,
                    "median": duration_text(Some(m)), "p90": duration_text(Some(p)),
                    "hit_x": round(LEFT + slot * i as f64), "hit_width": round(slot),
                }));
            }
            _ => previous = false,
        }
    }
    chart.insert("median_path".into(), median.trim_end().into());
    chart.insert("p90_path".into(), p90.trim_end().into());
    chart.insert("points".into(), points.into());
    chart.insert(
        "ticks".into(),
        ticks
            .iter()
            .map(
                |v| json!({ "y": y_of(*v, y_max), "text": format!("{} {unit_short}", figure(*v)) }),
            )
            .collect::<Vec<_>>()
            .into(),
    );
    chart.into()
}

// ---- the page -------------------------------------------------------------------------

/// The names the groups' keys stand for.
struct Names {
    group_by: Option<GroupBy>,
    members: HashMap<String, String>,
    channels: HashMap<String, String>,
}

impl Names {
    fn of(&self, key: Option<&str>) -> String {
        match (self.group_by, key) {
            (None, _) => "All conversations".to_string(),
            (Some(GroupBy::Agent), None) => "Unassigned".to_string(),
            (Some(GroupBy::Label), None) => "No label".to_string(),
            (Some(GroupBy::Channel), None) => "No channel".to_string(),
            (Some(GroupBy::Agent), Some(id)) => self
                .members
                .get(id)
                .cloned()
                .unwrap_or_else(|| "A former member".to_string()),
            (Some(GroupBy::Channel), Some(id)) => self
                .channels
                .get(id)
                .cloned()
                .unwrap_or_else(|| "A disconnected number".to_string()),
            (Some(GroupBy::Label), Some(label)) => label.to_string(),
        }
    }
}

fn summary_row(totals: &GroupTotals, name: String) -> Value {
    json!({
        "name": name,
        "opened": totals.opened,
        "resolved": totals.resolved,
        "first_response": durations_json(&totals.first_response),
        "resolution": durations_json(&totals.resolution),
    })
}

/// `GET /o/{organization_id}/inbox/reports`: the form, the charts, the
/// tables; a bad range said next to its field (422).
pub async fn reports_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(form): Query<ReportForm>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::USE_INBOX,
    )
    .await?;
    let (mut context, _) = base(
        &state,
        &visitor,
        "Inbox reports",
        "inbox_reports",
        Some(&membership),
    )
    .await?;
    let org = membership.organization.id.to_string();
    context.insert(
        "organization".into(),
        json!({ "id": org, "name": membership.organization.name }),
    );
    context.insert(
        "form".into(),
        serde_json::to_value(&form).map_err(ApiError::internal)?,
    );
    let range = match form.range() {
        Ok(range) => range,
        Err(error) => {
            let status = refusal(error)?.into_context(&mut context);
            context.insert("invalid".into(), true.into());
            return Ok(Page::render("inbox_reports.html", context)?.status(status));
        }
    };
    FormErrors::ok().into_context(&mut context);
    // The form shows the range it reports on (the defaults filled in).
    context.insert(
        "form".into(),
        json!({
            "from": range.from.to_string(),
            "to": range.to.to_string(),
            "group_by": range.group_by.map(|g| g.as_str()).unwrap_or(""),
        }),
    );
    let db = &state.inbox.db;
    let whole = ReportRange {
        group_by: None,
        ..range
    };
    let (report, totals) = reports::report_with_totals(db, &user.organization_id, whole)
        .await
        .map_err(api)?;
    let channels = inbox_store::channels(db.pool(), &user.organization_id)
        .await
        .map_err(ApiError::from)?;
    let all = totals.first().cloned().unwrap_or(GroupTotals {
        key: None,
        opened: 0,
        resolved: 0,
        first_response: Durations::default(),
        resolution: Durations::default(),
    });
    let quiet = all.opened == 0 && all.resolved == 0 && all.first_response.count == 0;
    let names = Names {
        group_by: range.group_by,
        members: if range.group_by == Some(GroupBy::Agent) {
            member_names(&state, &user)
                .await?
                .into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect()
        } else {
            HashMap::new()
        },
        channels: channels
            .iter()
            .map(|c| (c.id.to_string(), c.name.clone()))
            .collect(),
    };
    let (grouped, group_totals) = match range.group_by {
        None => (report.clone(), totals.clone()),
        Some(_) => reports::report_with_totals(db, &user.organization_id, range)
            .await
            .map_err(api)?,
    };
    let mut summary: Vec<(String, Value)> = group_totals
        .iter()
        .map(|t| {
            let name = names.of(t.key.as_deref());
            (name.clone(), summary_row(t, name))
        })
        .collect();
    // Busiest first, then by name.
    summary.sort_by(|(a_name, a), (b_name, b)| {
        b["opened"]
            .as_u64()
            .cmp(&a["opened"].as_u64())
            .then_with(|| a_name.cmp(b_name))
    });
    let order: Vec<String> = summary.iter().map(|(name, _)| name.clone()).collect();
    let mut tables: Vec<(usize, Value)> = grouped
        .groups
        .iter()
        .enumerate()
        .map(|(n, group)| {
            let name = names.of(group.key.as_deref());
            let days: Vec<Value> = group
                .days
                .iter()
                .rev()
                .map(|d| {
                    json!({
                        "date": d.date,
                        "opened": d.opened,
                        "resolved": d.resolved,
                        "first_response": durations_json(&d.first_response),
                        "resolution": durations_json(&d.resolution),
                    })
                })
                .collect();
            let place = order.iter().position(|o| *o == name).unwrap_or(usize::MAX);
            (
                place,
                json!({ "id": format!("group-{n}"), "name": name, "days": days }),
            )
        })
        .collect();
    tables.sort_by_key(|(place, _)| *place);
    let query = ReportForm::query(&range);
    let quick = |days: i64| {
        let from = range.to - chrono::Duration::days(days - 1);
        let mut href = format!("/o/{org}/inbox/reports?from={from}&to={}", range.to);
        if let Some(group_by) = range.group_by {
            href.push_str(&format!("&group_by={}", group_by.as_str()));
        }
        json!({ "days": days, "href": href, "current": (range.to - range.from).num_days() + 1 == days })
    };
    context.insert("has_channels".into(), (!channels.is_empty()).into());
    context.insert("quiet".into(), quiet.into());
    context.insert("all".into(), summary_row(&all, "All conversations".into()));
    context.insert(
        "range".into(),
        json!({
            "from": range.from.to_string(),
            "to": range.to.to_string(),
            "from_text": short_date(&range.from.to_string()),
            "to_text": format!("{} {}", short_date(&range.to.to_string()), range.to.format("%Y")),
            "days": (range.to - range.from).num_days() + 1,
            "group_by": range.group_by.map(|g| g.as_str()),
        }),
    );
    context.insert("quick".into(), vec![quick(7), quick(30), quick(90)].into());
    context.insert(
        "summary".into(),
        summary
            .into_iter()
            .map(|(_, row)| row)
            .collect::<Vec<_>>()
            .into(),
    );
    context.insert(
        "tables".into(),
        tables
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .into(),
    );
    context.insert("counts_chart".into(), counts_chart(&report));
    context.insert(
        "first_response_chart".into(),
        durations_chart(&report, |d| &d.first_response),
    );
    context.insert(
        "resolution_chart".into(),
        durations_chart(&report, |d| &d.resolution),
    );
    context.insert(
        "csv_href".into(),
        format!("/o/{org}/inbox/reports.csv?{query}").into(),
    );
    let page = Page::render("inbox_reports.html", context)?;
    Ok(page)
}

/// `GET /o/{organization_id}/inbox/reports.csv`: the report as CSV, as
/// `GET /inbox/reports.csv` gives it.
pub async fn reports_csv(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(form): Query<ReportForm>,
) -> Result<Response, PageError> {
    let (user, _) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::USE_INBOX,
    )
    .await?;
    let range = form.range().map_err(api)?;
    let report = reports::report(&state.inbox.db, &user.organization_id, range)
        .await
        .map_err(api)?;
    let filename = format!("inbox-report-{}-{}.csv", range.from, range.to);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        reports::csv(&report),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(None), "—");
        assert_eq!(duration_text(Some(0.4)), "under 1 s");
        assert_eq!(duration_text(Some(45.0)), "45 s");
        assert_eq!(duration_text(Some(90.0)), "1 min 30 s");
        assert_eq!(duration_text(Some(600.0)), "10 min");
        assert_eq!(duration_text(Some(7200.0)), "2 h");
        assert_eq!(duration_text(Some(12_000.0)), "3 h 20 min");
        assert_eq!(duration_text(Some(187_200.0)), "2 d 4 h");
    }

    #[test]
    fn axes_step_roundly() {
        assert_eq!(axis(7.0, 4.0), (8.0, vec![0.0, 2.0, 4.0, 6.0, 8.0]));
        assert_eq!(axis(0.0, 4.0).0, 4.0);
        assert_eq!(axis(1.5, 1.0).1.len(), 4, "0, 0.5, 1, 1.5");
        assert_eq!(figure(0.5), "0.5");
        assert_eq!(figure(20.0), "20");
        assert_eq!(short_date("2026-11-02"), "2 Nov");
    }
}
