//! Monthly quotas: metered requests per organization per calendar month
//! (UTC). The count starts from the database (usage already recorded this
//! month) and is then kept in memory, or in Redis when configured.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{Datelike, TimeZone, Utc};

use crate::shared::SharedStore;

/// `YYYY-MM` of a Unix-millisecond time.
pub fn month_key(millis: i64) -> String {
    let time = Utc
        .timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default();
    format!("{:04}-{:02}", time.year(), time.month())
}

/// Unix ms of the first instant of the month containing `millis`.
pub fn month_start_ms(millis: i64) -> i64 {
    let time = Utc
        .timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default();
    Utc.with_ymd_and_hms(time.year(), time.month(), 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// Unix ms of the first instant of the next month.
pub fn next_month_start_ms(millis: i64) -> i64 {
    let time = Utc
        .timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default();
    let (year, month) = if time.month() == 12 {
        (time.year() + 1, 1)
    } else {
        (time.year(), time.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or(i64::MAX)
}

/// Counts metered requests per `organization:month`.
pub struct QuotaCounter {
    local: Mutex<HashMap<String, i64>>,
    shared: Option<SharedStore>,
}

impl QuotaCounter {
    pub fn new(shared: Option<SharedStore>) -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Whether the counter for `key` is already known (no database count
    /// needed to initialize it).
    pub fn known_locally(&self, key: &str) -> bool {
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    /// Reserves one request: `Ok(used)` counting this one, or `Err(used)`
    /// when `cap` is reached. `initial` is the database's count, used when
    /// the counter is new. `cap = None` counts without refusing.
    pub async fn reserve(&self, key: &str, initial: i64, cap: Option<i64>) -> Result<i64, i64> {
        if let Some(shared) = &self.shared {
            if let Some((allowed, used)) =
                shared.reserve_quota(key, initial, cap.unwrap_or(-1)).await
            {
                // Mirror it, so a Redis outage continues from here.
                self.local
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.to_string(), used);
                return if allowed { Ok(used) } else { Err(used) };
            }
        }
        let mut counters = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let used = counters.entry(key.to_string()).or_insert(initial);
        if cap.is_some_and(|cap| *used >= cap) {
            return Err(*used);
        }
        *used += 1;
        Ok(*used)
    }

    /// Used so far, if known without the database.
    pub async fn used(&self, key: &str) -> Option<i64> {
        if let Some(shared) = &self.shared {
            if let Some(used) = shared.quota_used(key).await {
                return Some(used);
            }
        }
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        let nov_30_late = Utc
            .with_ymd_and_hms(2026, 11, 30, 23, 59, 59)
            .unwrap()
            .timestamp_millis();
        assert_eq!(month_key(nov_30_late), "2026-11");
        assert_eq!(
            next_month_start_ms(nov_30_late),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        let dec = Utc
            .with_ymd_and_hms(2026, 12, 15, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            next_month_start_ms(dec),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            month_start_ms(dec),
            Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
    }

    #[tokio::test]
    async fn the_cap_stops_exactly_at_the_included_requests() {
        let quota = QuotaCounter::new(None);
        assert_eq!(quota.reserve("o:2026-11", 997, Some(1000)).await, Ok(998));
        assert_eq!(quota.reserve("o:2026-11", 0, Some(1000)).await, Ok(999));
        assert_eq!(quota.reserve("o:2026-11", 0, Some(1000)).await, Ok(1000));
        assert_eq!(quota.reserve("o:2026-11", 0, Some(1000)).await, Err(1000));
        assert_eq!(quota.reserve("o:2026-12", 0, Some(1000)).await, Ok(1));
        assert_eq!(quota.reserve("p:2026-11", 5000, None).await, Ok(5001));
    }
}
