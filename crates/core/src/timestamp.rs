//! One timestamp type: stored as Unix milliseconds (`BIGINT`, the same on
//! SQLite and PostgreSQL), shown as RFC 3339 in UTC with milliseconds.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant, to the millisecond.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, sqlx::Type)]
#[sqlx(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(Utc::now().timestamp_millis())
    }

    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 (any offset).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Self(t.with_timezone(&Utc).timestamp_millis()))
    }

    /// RFC 3339, UTC, milliseconds: `2026-11-24T16:00:00.123Z`.
    pub fn rfc3339(self) -> String {
        match self.rfc3339_text() {
            Some(text) => String::from(text.as_str()),
            None => DateTime::<Utc>::from_timestamp_millis(self.0)
                .unwrap_or_default()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// [`Timestamp::rfc3339`] written on the stack, for the years 0000 to
    /// 9999 (`None` outside them): every API answer shows a few, and
    /// serializing them this way allocates nothing. The calendar
    /// arithmetic is the proleptic Gregorian "civil from days" of
    /// Howard Hinnant's date algorithms.
    fn rfc3339_text(self) -> Option<Rfc3339Text> {
        const DAY_MS: i64 = 86_400_000;
        let days = self.0.div_euclid(DAY_MS);
        let of_day = self.0.rem_euclid(DAY_MS);
        // Days since 0000-03-01, in 400-year eras of 146,097 days.
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        // Months from March, so that February's leap day comes last.
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        if !(0..=9_999).contains(&year) {
            return None;
        }
        let mut text = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for slot in text[at..at + width].iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, of_day / 3_600_000);
        put(14, 2, of_day / 60_000 % 60);
        put(17, 2, of_day / 1_000 % 60);
        put(20, 3, of_day % 1_000);
        Some(Rfc3339Text(text))
    }

    /// The calendar day, `YYYY-MM-DD` (UTC).
    pub fn date(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string()
    }

    pub fn plus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(duration.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    pub fn minus(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(duration.as_millis().min(i64::MAX as u128) as i64),
        )
    }

    /// Time from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, ASCII digits and separators.
struct Rfc3339Text([u8; 24]);

impl Rfc3339Text {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000Z")
    }
}

impl std::fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rfc3339_text() {
            Some(text) => f.write_str(text.as_str()),
            None => f.write_str(&self.rfc3339()),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_text() {
            Some(text) => serializer.serialize_str(text.as_str()),
            None => serializer.serialize_str(&self.rfc3339()),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom("is not an RFC 3339 time such as 2026-11-24T16:00:00Z")
        })
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .description(Some("RFC 3339, UTC"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

// Read on the calling thread (see `crate::sqlite_reader`).
impl rusqlite::types::FromSql for Timestamp {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        value.as_i64().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chrono's text, which the stack-written one must equal.
    fn chrono_text(millis: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(millis)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    #[test]
    fn the_text_written_on_the_stack_is_chronos() {
        let year_0 = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
        let year_10000 = 253_402_300_800_000; // 10000-01-01T00:00:00.000Z
        let edges = [
            0,
            -1,
            1,
            951_782_400_000,   // 2000-02-29 (a leap day of a 400th year)
            4_107_542_399_999, // 2100-02-28T23:59:59.999 (no leap day)
            1_709_164_800_000, // 2024-02-29
            year_0,
            year_0 - 1,
            year_10000 - 1,
            year_10000,
            i64::MAX,
            i64::MIN,
        ];
        for millis in edges {
            let t = Timestamp::from_millis(millis);
            assert_eq!(t.rfc3339(), chrono_text(millis), "{millis}");
            assert_eq!(t.to_string(), chrono_text(millis), "{millis}");
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", chrono_text(millis)), "{millis}");
        }
        assert!(Timestamp::from_millis(year_0 - 1).rfc3339_text().is_none());
        assert!(Timestamp::from_millis(year_10000).rfc3339_text().is_none());
        // A sweep over the whole range, every step a different day and
        // time of day (a fixed pseudo-random walk, the same every run).
        let span = (year_10000 - year_0) as u64;
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let millis = year_0 + (state % span) as i64;
            let text = Timestamp::from_millis(millis).rfc3339_text().unwrap();
            assert_eq!(text.as_str(), chrono_text(millis), "{millis}");
        }
    }

    #[test]
    fn stores_millis_and_shows_rfc3339() {
        let t = Timestamp::from_millis(1_764_000_000_123);
        assert_eq!(t.rfc3339(), "2025-11-24T16:00:00.123Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2025-11-24T16:00:00.123Z\""
        );
        let back: Timestamp = serde_json::from_str("\"2025-11-24T17:00:00.123+01:00\"").unwrap();
        assert_eq!(back, t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert_eq!(t.date(), "2025-11-24");
        assert_eq!(t.plus(Duration::from_secs(1)).millis(), 1_764_000_001_123);
    }
}
