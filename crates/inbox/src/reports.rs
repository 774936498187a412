//! Inbox reports: per day, conversations opened and resolved, and the
//! median and 90th percentile of first response and resolution times —
//! for the whole organization or by agent, label or channel — from the
//! report rows the store writes as things happen (never from the messages).
//!
//! A conversation counts as opened on the day it opened, its first response
//! on the day of the first outgoing message, its resolution on the day it
//! was resolved (days in UTC). Percentiles are nearest-rank: the p-th
//! percentile of n sorted durations is the ⌈p·n/100⌉-th, so a median and a
//! p90 are always durations that happened.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Db, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{self, ReportRow};

const DAY_MS: i64 = 86_400_000;

/// The longest range a report covers, in days.
pub const MAX_DAYS: i64 = 366;

landlord_core::text_enum!(
    /// How a report's figures are grouped.
    pub enum GroupBy {
        Agent = "agent",
        Label = "label",
        Channel = "channel",
    }
);

/// A checked report request: `[from, to]` in whole UTC days.
#[derive(Debug, Clone, Copy)]
pub struct ReportRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: Option<GroupBy>,
}

fn parse_day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid_field(field, "must be a date, YYYY-MM-DD"))
}

fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

impl ReportRange {
    /// Checks the query: `from` and `to` (default: the 30 days to today),
    /// `from` not after `to`, at most [`MAX_DAYS`] days, a known `group_by`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        group_by: Option<&str>,
        today: Timestamp,
    ) -> Result<Self, ApiError> {
        let today =
            NaiveDate::parse_from_str(&today.date(), "%Y-%m-%d").map_err(ApiError::internal)?;
        let to = match to {
            Some(text) => parse_day("to", text)?,
            None => today,
        };
        let from = match from {
            Some(text) => parse_day("from", text)?,
            None => to - chrono::Duration::days(29),
        };
        if from > to {
            return Err(ApiError::invalid_field("from", "must not be after to"));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(ApiError::invalid_field(
                "to",
                format!("the range covers at most {MAX_DAYS} days"),
            ));
        }
        let group_by = match group_by.filter(|g| !g.is_empty()) {
            None => None,
            Some(text) => Some(GroupBy::parse(text).ok_or_else(|| {
                ApiError::invalid_field("group_by", "must be agent, label or channel")
            })?),
        };
        Ok(Self { from, to, group_by })
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| d <= &self.to)
    }
}

/// A median and 90th percentile of durations, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, PartialEq)]
pub struct Durations {
    /// How many durations.
    pub count: u64,
    /// `null` when there are none.
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl Durations {
    fn of(mut millis: Vec<i64>) -> Self {
        millis.sort_unstable();
        Self {
            count: millis.len() as u64,
            median_seconds: percentile(&millis, 50),
            p90_seconds: percentile(&millis, 90),
        }
    }
}

/// Nearest-rank percentile of sorted milliseconds, in seconds.
fn percentile(sorted: &[i64], p: usize) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).map(|ms| *ms as f64 / 1000.0)
}

/// One day of one group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportDay {
    #[schema(example = "2026-12-07")]
    pub date: String,
    pub opened: u64,
    pub resolved: u64,
    pub first_response: Durations,
    pub resolution: Durations,
}

/// One group's days (the whole organization when not grouped).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportGroup {
    /// The agent's user id, the label or the channel id; `null` for the
    /// whole organization, or for unassigned conversations by agent.
    pub key: Option<String>,
    pub days: Vec<ReportDay>,
}

/// A report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    #[schema(example = "2026-12-01")]
    pub from: String,
    #[schema(example = "2026-12-07")]
    pub to: String,
    /// `agent`, `label`, `channel`, or `null`.
    pub group_by: Option<String>,
    pub groups: Vec<ReportGroup>,
}

#[derive(Default)]
struct Acc {
    opened: u64,
    resolved: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
}

/// Builds the report from the store's rows.
pub async fn report(
    db: &Db,
    organization_id: &OrganizationId,
    range: ReportRange,
) -> Result<Report, ApiError> {
    let rows = rows(db, organization_id, range).await?;
    Ok(build(range, &rows))
}

/// The report rows of `range`. Reports tolerate lag: a replica answers
/// when one is configured (and the primary when it fails the read).
async fn rows(
    db: &Db,
    organization_id: &OrganizationId,
    range: ReportRange,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let from = Timestamp::from_millis(day_start(range.from));
    let to = Timestamp::from_millis(day_start(range.to) + DAY_MS);
    let with_labels = range.group_by == Some(GroupBy::Label);
    db.read(|reader| async move {
        store::report_rows(&reader, organization_id, from, to, with_labels).await
    })
    .await
}

/// One group's figures over the whole range: the medians and p90s of
/// every duration in it (not an average of the days').
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTotals {
    pub key: Option<String>,
    pub opened: u64,
    pub resolved: u64,
    pub first_response: Durations,
    pub resolution: Durations,
}

/// The report and each group's figures over the whole range (the
/// console's summary), from one read of the rows.
pub async fn report_with_totals(
    db: &Db,
    organization_id: &OrganizationId,
    range: ReportRange,
) -> Result<(Report, Vec<GroupTotals>), ApiError> {
    let rows = rows(db, organization_id, range).await?;
    Ok((build(range, &rows), totals(range, &rows)))
}

fn key_of(group_by: Option<GroupBy>, row: &ReportRow) -> Option<String> {
    match group_by {
        None => None,
        Some(GroupBy::Agent) => row.agent_id.as_ref().map(|a| a.to_string()),
        Some(GroupBy::Label) => row.label.clone(),
        Some(GroupBy::Channel) => Some(row.channel_id.to_string()),
    }
}

fn totals(range: ReportRange, rows: &[ReportRow]) -> Vec<GroupTotals> {
    let start = day_start(range.from);
    let end = day_start(range.to) + DAY_MS;
    let inside = |at: Timestamp| (start..end).contains(&at.millis());
    let mut groups: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    if range.group_by.is_none() {
        groups.entry(None).or_default();
    }
    for row in rows {
        let acc = groups.entry(key_of(range.group_by, row)).or_default();
        if inside(row.opened_at) {
            acc.opened += 1;
        }
        if let (Some(at), Some(ms)) = (row.first_response_at, row.first_response_ms) {
            if inside(at) {
                acc.first_response.push(ms);
            }
        }
        if let (Some(at), Some(ms)) = (row.resolved_at, row.resolution_ms) {
            if inside(at) {
                acc.resolved += 1;
                acc.resolution.push(ms);
            }
        }
    }
    groups
        .into_iter()
        .map(|(key, acc)| GroupTotals {
            key,
            opened: acc.opened,
            resolved: acc.resolved,
            first_response: Durations::of(acc.first_response),
            resolution: Durations::of(acc.resolution),
        })
        .collect()
}

fn build(range: ReportRange, rows: &[ReportRow]) -> Report {
    let start = day_start(range.from);
    let end = day_start(range.to) + DAY_MS;
    let day_of = |at: Timestamp| {
        let ms = at.millis();
        (ms >= start && ms < end).then(|| (ms - start).div_euclid(DAY_MS))
    };
    let mut groups: BTreeMap<Option<String>, BTreeMap<i64, Acc>> = BTreeMap::new();
    if range.group_by.is_none() {
        groups.entry(None).or_default();
    }
    for row in rows {
        let days = groups.entry(key_of(range.group_by, row)).or_default();
        if let Some(day) = day_of(row.opened_at) {
            days.entry(day).or_default().opened += 1;
        }
        if let (Some(at), Some(ms)) = (row.first_response_at, row.first_response_ms) {
            if let Some(day) = day_of(at) {
                days.entry(day).or_default().first_response.push(ms);
            }
        }
        if let (Some(at), Some(ms)) = (row.resolved_at, row.resolution_ms) {
            if let Some(day) = day_of(at) {
                let acc = days.entry(day).or_default();
                acc.resolved += 1;
                acc.resolution.push(ms);
            }
        }
    }
    let groups = groups
        .into_iter()
        .map(|(key, mut accs)| ReportGroup {
            key,
            days: range
                .days()
                .enumerate()
                .map(|(n, date)| {
                    let acc = accs.remove(&(n as i64)).unwrap_or_default();
                    ReportDay {
                        date: date.format("%Y-%m-%d").to_string(),
                        opened: acc.opened,
                        resolved: acc.resolved,
                        first_response: Durations::of(acc.first_response),
                        resolution: Durations::of(acc.resolution),
                    }
                })
                .collect(),
        })
        .collect();
    Report {
        from: range.from.format("%Y-%m-%d").to_string(),
        to: range.to.format("%Y-%m-%d").to_string(),
        group_by: range.group_by.map(|g| g.as_str().to_string()),
        groups,
    }
}

/// The CSV header of [`csv`].
pub const CSV_HEADER: &str = "date,group,opened,resolved,first_response_count,\
first_response_median_seconds,first_response_p90_seconds,resolution_count,\
resolution_median_seconds,resolution_p90_seconds";

fn csv_field(text: &str) -> String {
    // A spreadsheet must not read a cell as a formula.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(String::new, |s| s.to_string())
}

/// The report as CSV: a row per group and day (the same figures as JSON).
pub fn csv(report: &Report) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for group in &report.groups {
        let key = csv_field(group.key.as_deref().unwrap_or(""));
        for day in &group.days {
            out.push_str(&format!(
                "{},{key},{},{},{},{},{},{},{},{}\n",
                day.date,
                day.opened,
                day.resolved,
                day.first_response.count,
                seconds(day.first_response.median_seconds),
                seconds(day.first_response.p90_seconds),
                day.resolution.count,
                seconds(day.resolution.median_seconds),
                seconds(day.resolution.p90_seconds),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
        assert_eq!(percentile(&ms, 50), Some(5.0));
        assert_eq!(percentile(&ms, 90), Some(9.0));
        assert_eq!(percentile(&[7000], 90), Some(7.0));
        assert_eq!(percentile(&[1000, 3000], 50), Some(1.0));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn bad_ranges_name_their_field() {
        let now = Timestamp::from_millis(1_796_601_600_000);
        let field = |f: Option<&str>, t: Option<&str>, g: Option<&str>| {
            ReportRange::parse(f, t, g, now)
                .err()
                .map(|e| format!("{e:?}"))
        };
        assert!(
            field(Some("2026-12-07"), Some("2026-12-01"), None).is_some_and(|e| e.contains("from"))
        );
        assert!(
            field(Some("2024-01-01"), Some("2026-12-01"), None).is_some_and(|e| e.contains("to"))
        );
        assert!(field(None, None, Some("team")).is_some_and(|e| e.contains("group_by")));
        assert!(field(Some("yesterday"), None, None).is_some_and(|e| e.contains("from")));
        assert!(field(None, None, Some("agent")).is_none());
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("vip"), "vip");
    }
}
