//! How the console writes times and figures for people: relative times
//! ("3 minutes ago") with the exact UTC time beside them, and numbers with
//! thousands separators. The templates reach these as filters (`ago`,
//! `utc`, `when`, `thousands`); every page computes them on the server,
//! so they read the same without JavaScript.

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::value::{Value, ValueKind};

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Unix milliseconds of an RFC 3339 time or a `YYYY-MM-DD` date (its first
/// instant, UTC); `None` for anything else.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(ms) = landlord_core::time::parse_rfc3339(text) {
        return Some(ms);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc().timestamp_millis())
}

fn plural(count: i64, unit: &str) -> String {
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

/// `then` relative to `now` (both Unix ms), as a person says it: "just
/// now", "3 minutes ago", "yesterday", "in 5 days", "2 years ago".
pub fn relative(then: i64, now: i64) -> String {
    let seconds = (now - then) / 1000;
    let past = seconds >= 0;
    let span = seconds.abs();
    if span < 45 {
        return "just now".into();
    }
    if (24 * HOUR..48 * HOUR).contains(&span) {
        return if past { "yesterday" } else { "tomorrow" }.into();
    }
    let amount = if span < 90 {
        "a minute".to_string()
    } else if span < HOUR {
        plural((span + MINUTE / 2) / MINUTE, "minute")
    } else if span < 2 * HOUR {
        "an hour".to_string()
    } else if span < DAY {
        plural(span / HOUR, "hour")
    } else if span < 45 * DAY {
        plural(span / DAY, "day")
    } else if span < 365 * DAY {
        plural((span / DAY + 15) / 30, "month")
    } else {
        plural(span / (365 * DAY), "year")
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// The exact time, UTC, to the second: `2026-12-06 09:48:15 UTC`.
pub fn exact(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// `1234567` as `1,234,567` (a sign kept, a fraction kept as given); an
/// amount followed by its unit (`12345.00 USD`) too.
pub fn thousands(text: &str) -> String {
    if let Some((number, unit)) = text.split_once(' ') {
        let grouped = group(number);
        return if grouped == number {
            text.to_string()
        } else {
            format!("{grouped} {unit}")
        };
    }
    group(text)
}

fn group(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = match rest.find('.') {
        Some(dot) => rest.split_at(dot),
        None => (rest, ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{fraction}")
}

fn millis_of(value: &Value) -> Option<i64> {
    match value.kind() {
        ValueKind::Number => i64::try_from(value.clone()).ok(),
        _ => value.as_str().and_then(parse_time),
    }
}

fn now_ms() -> i64 {
    landlord_core::Timestamp::now().millis()
}

fn shown(value: &Value) -> String {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        _ => value.to_string(),
    }
}

/// Filter `ago`: a time as "3 minutes ago" (an unreadable value as given).
pub fn ago_filter(value: Value) -> String {
    millis_of(&value).map_or_else(|| shown(&value), |ms| relative(ms, now_ms()))
}

/// Filter `utc`: a time as `2026-12-06 09:48:15 UTC`.
pub fn utc_filter(value: Value) -> String {
    millis_of(&value).map_or_else(|| shown(&value), exact)
}

/// Filter `when`: `<time datetime=… title="… UTC">3 minutes ago</time>`.
pub fn when_filter(value: Value) -> Value {
    let Some(ms) = millis_of(&value) else {
        return Value::from(shown(&value));
    };
    let datetime = landlord_core::time::rfc3339(ms);
    Value::from_safe_string(format!(
        "<time datetime=\"{datetime}\" title=\"{}\">{}</time>",
        exact(ms),
        relative(ms, now_ms())
    ))
}

/// Filter `thousands`: a number with thousands separators.
pub fn thousands_filter(value: Value) -> String {
    thousands(&shown(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_550_000_000; // 2026-12-06T09:40:00Z

    #[test]
    fn relative_times_read_like_a_person() {
        let s = 1000;
        assert_eq!(relative(NOW - 10 * s, NOW), "just now");
        assert_eq!(relative(NOW - 60 * s, NOW), "a minute ago");
        assert_eq!(relative(NOW - 180 * s, NOW), "3 minutes ago");
        assert_eq!(relative(NOW - 59 * 60 * s, NOW), "59 minutes ago");
        assert_eq!(relative(NOW - 61 * 60 * s, NOW), "an hour ago");
        assert_eq!(relative(NOW - 5 * 3600 * s, NOW), "5 hours ago");
        assert_eq!(relative(NOW - 30 * 3600 * s, NOW), "yesterday");
        assert_eq!(relative(NOW - 3 * 86_400 * s, NOW), "3 days ago");
        assert_eq!(relative(NOW - 90 * 86_400 * s, NOW), "3 months ago");
        assert_eq!(relative(NOW - 800 * 86_400 * s, NOW), "2 years ago");
        assert_eq!(relative(NOW + 5 * 86_400 * s, NOW), "in 5 days");
        assert_eq!(relative(NOW + 30 * 3600 * s, NOW), "tomorrow");
        assert_eq!(relative(NOW + 20 * 60 * s, NOW), "in 20 minutes");
    }

    #[test]
    fn exact_times_are_utc_to_the_second() {
        assert_eq!(exact(NOW), "2026-12-06 09:40:00 UTC");
        assert_eq!(parse_time("2026-12-06T09:40:00.000Z"), Some(NOW));
        assert_eq!(
            parse_time("2026-12-06"),
            Some(NOW - 9 * 3_600_000 - 40 * 60_000)
        );
        assert_eq!(parse_time("soon"), None);
    }

    #[test]
    fn numbers_carry_thousands_separators() {
        assert_eq!(thousands("0"), "0");
        assert_eq!(thousands("999"), "999");
        assert_eq!(thousands("1000"), "1,000");
        assert_eq!(thousands("123456"), "123,456");
        assert_eq!(thousands("1234567"), "1,234,567");
        assert_eq!(thousands("-98765"), "-98,765");
        assert_eq!(thousands("12345.50"), "12,345.50");
        assert_eq!(thousands("n/a"), "n/a");
        assert_eq!(thousands("12345.00 USD"), "12,345.00 USD");
        assert_eq!(thousands("60.00 USD"), "60.00 USD");
        assert_eq!(thousands("not a number"), "not a number");
        assert_eq!(thousands(""), "");
    }

    #[test]
    fn filters_take_numbers_strings_and_nothing() {
        assert_eq!(thousands_filter(Value::from(1_500_i64)), "1,500");
        assert_eq!(thousands_filter(Value::from("25000")), "25,000");
        assert_eq!(thousands_filter(Value::from(())), "");
        assert_eq!(utc_filter(Value::from(NOW)), "2026-12-06 09:40:00 UTC");
        assert_eq!(
            utc_filter(Value::from("2026-12-06T09:40:00Z")),
            "2026-12-06 09:40:00 UTC"
        );
        assert_eq!(ago_filter(Value::from("never")), "never");
        let when = when_filter(Value::from("2026-12-06T09:40:00Z")).to_string();
        assert!(
            when.starts_with(
                "<time datetime=\"2026-12-06T09:40:00.000Z\" title=\"2026-12-06 09:40:00 UTC\">"
            ),
            "{when}"
        );
        // The relative text depends on today: a time three hours back
        // reads "… ago" whatever the day the test runs.
        let recent = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
        let recent = when_filter(Value::from(recent)).to_string();
        assert!(recent.ends_with(" ago</time>"), "{recent}");
        assert_eq!(when_filter(Value::from(())).to_string(), "");
    }
}
