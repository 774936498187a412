//! Times as the API shows them: RFC 3339 in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Unix milliseconds (as stored) to RFC 3339 UTC (as shown).
pub fn rfc3339(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Optional variant of [`rfc3339`].
pub fn rfc3339_opt(millis: Option<i64>) -> Option<String> {
    millis.map(rfc3339)
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = rfc3339(1_764_000_000_123);
        assert_eq!(text, "2025-11-24T16:00:00.123Z");
        assert_eq!(parse_rfc3339(&text), Some(1_764_000_000_123));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
