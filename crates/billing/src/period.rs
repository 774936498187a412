//! Billing periods: calendar months in UTC, written `YYYY-MM`.

use chrono::{Datelike, TimeZone, Utc};
use landlord_core::{ApiError, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let period = Period {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (1..=12).contains(&period.month).then_some(period)
    }

    /// Parses a request field, naming it in the error.
    pub fn from_field(field: &str, text: &str) -> Result<Period, ApiError> {
        Period::parse(text)
            .ok_or_else(|| ApiError::invalid_field(field, "is not a month such as 2026-10"))
    }

    pub fn containing(millis: i64) -> Period {
        let t = Utc
            .timestamp_millis_opt(millis)
            .single()
            .unwrap_or_default();
        Period {
            year: t.year(),
            month: t.month(),
        }
    }

    /// The month holding the instant `at`.
    pub fn of(at: Timestamp) -> Period {
        Period::containing(at.millis())
    }

    /// The first instant of the month.
    pub fn start(self) -> Timestamp {
        Timestamp::from_millis(self.start_ms())
    }

    /// The first instant of the next month.
    pub fn end(self) -> Timestamp {
        Timestamp::from_millis(self.end_ms())
    }

    pub fn previous(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Unix ms of the first instant.
    pub fn start_ms(self) -> i64 {
        Utc.with_ymd_and_hms(self.year, self.month, 1, 0, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or(0)
    }

    /// Unix ms of the first instant after the period.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_move() {
        let p = Period::parse("2026-12").unwrap();
        assert_eq!(p.next().key(), "2027-01");
        assert_eq!(
            Period::parse("2027-01").unwrap().previous().key(),
            "2026-12"
        );
        assert_eq!(p.end_ms() - p.start_ms(), 31 * 24 * 3600 * 1000);
        assert!(Period::parse("2026-13").is_none());
        assert!(Period::parse("26-1").is_none());
        assert!(Period::parse("nope").is_none());
    }
}
