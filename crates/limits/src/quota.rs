//! Monthly quotas: metered requests per organization per calendar month
//! (UTC). The count starts from the database (usage already recorded this
//! month) and is then kept in memory, or in Redis when configured. With
//! Redis, an instance takes requests from the counter in leases (see
//! [`crate::lease`]): `used` is then Redis's count at the lease less what
//! the lease still holds — exact on one instance, ahead by at most what the
//! other instances hold (unused leases) across several.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Datelike, TimeZone, Utc};

use crate::lease::{self, QuotaSlot, Slots, MAX_LEASE};
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

/// Counts one request on `used` unless `cap` is reached.
fn take_one(used: &mut i64, cap: Option<i64>) -> Result<i64, i64> {
    if cap.is_some_and(|cap| *used >= cap) {
        return Err(*used);
    }
    *used += 1;
    Ok(*used)
}

/// Counts metered requests per `organization:month`.
pub struct QuotaCounter {
    /// Counters in memory; with Redis, the count of the last lease, so
    /// that an outage continues from it.
    local: Mutex<HashMap<String, i64>>,
    shared: Option<Arc<SharedStore>>,
    leases: Arc<Slots<QuotaSlot>>,
}

impl QuotaCounter {
    /// A counter in memory, or on `shared` Redis. With Redis and inside a
    /// Tokio runtime, starts the task that gives back the unused part of
    /// expired leases.
    pub fn new(shared: Option<SharedStore>) -> Self {
        let shared = shared.map(Arc::new);
        let leases = Arc::new(Slots::new());
        if let Some(store) = &shared {
            let store = store.clone();
            lease::spawn_sweeper(&leases, QuotaSlot::sweep, move |key, unused| {
                let store = store.clone();
                async move {
                    store.lease_quota(&key, -1, -1, 0, unused).await;
                }
            });
        }
        Self {
            local: Mutex::new(HashMap::new()),
            shared,
            leases,
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
            if let Some(reserved) = self.reserve_leased(shared, key, initial, cap).await {
                return reserved;
            }
        }
        let mut counters = self.local.lock().unwrap_or_else(|e| e.into_inner());
        // The key is allocated only the first time (`entry` would take an
        // owned key on every request).
        if let Some(used) = counters.get_mut(key) {
            return take_one(used, cap);
        }
        take_one(counters.entry(key.to_string()).or_insert(initial), cap)
    }

    /// [`QuotaCounter::reserve`] from this instance's lease of `key`, or
    /// from a new lease (giving back what is left of the expired one in the
    /// same call). `None` when Redis is unavailable.
    async fn reserve_leased(
        &self,
        shared: &SharedStore,
        key: &str,
        initial: i64,
        cap: Option<i64>,
    ) -> Option<Result<i64, i64>> {
        let arrived = Instant::now();
        let slot = self.leases.get(key);
        let mut slot = slot.lock().await;
        if let Some(reserved) = slot.take(Instant::now(), cap) {
            return Some(reserved);
        }
        if slot.failed_since(arrived) {
            return None;
        }
        let give_back = slot.release();
        let cap_arg = cap.unwrap_or(-1);
        match shared
            .lease_quota(key, initial.max(0), cap_arg, MAX_LEASE, give_back)
            .await
        {
            Some(grant) => {
                // Mirror the count (this lease included, so an outage errs
                // on the side of the cap) for a Redis outage to continue
                // from.
                self.local
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.to_string(), grant.count);
                Some(slot.start(grant, cap, Instant::now()))
            }
            None => {
                slot.failed(Instant::now());
                None
            }
        }
    }

    /// Used so far, if known without the database: with Redis, its count
    /// less what this instance's lease still holds.
    pub async fn used(&self, key: &str) -> Option<i64> {
        if let Some(shared) = &self.shared {
            if let Some(used) = shared.quota_used(key).await {
                let held = match self.leases.find(key) {
                    Some(slot) => slot.lock().await.unused(),
                    None => 0,
                };
                return Some((used - held).max(0));
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
