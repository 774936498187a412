//! Rate limits and monthly quotas.
//!
//! Rate limits use GCRA (the generic cell rate algorithm): a key of `limit`
//! requests per minute may spend its whole minute at once, then one request
//! every `60 s / limit`. Unlike fixed windows, it never lets through a burst
//! at the end of one window and another at the start of the next.
//!
//! State lives in this process by default. With Redis configured it lives in
//! Redis (Lua scripts on Redis's clock), so every instance shares one limit.
//! Large budgets are taken from Redis in leases (see [`lease`]): an instance
//! decides most requests from memory and asks Redis once per lease; small
//! ones (every default plan) ask Redis for every request. If Redis stops
//! answering, a circuit breaker opens (see [`breaker`]): every decision
//! falls back to this process's memory at once — the server keeps serving
//! at full speed, each instance then limiting on its own — and a warning is
//! logged once; a probe every second closes the breaker when Redis answers
//! again, and limits are shared again.
//!
//! Failed sign-ins and the like are counted by [`AttemptWindow`]: sliding
//! windows, reserved before the attempt, in Redis or in memory alike.

mod attempts;
mod breaker;
mod gcra;
mod lease;
mod quota;
mod shared;
#[cfg(test)]
mod shared_tests;

pub use attempts::{AttemptWindow, Reservation};
pub use gcra::Decision;
pub use quota::{month_key, month_start_ms, next_month_start_ms, QuotaCounter};
pub use shared::SharedStore;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lease::{rate_lease_size, RateSlot, Slots};

/// Rate limiter over named keys.
pub struct RateLimiter {
    local: Mutex<HashMap<String, i64>>,
    shared: Option<Arc<SharedStore>>,
    /// Leases taken from Redis, per key whose lease is larger than a cell.
    leases: Arc<Slots<RateSlot>>,
}

impl RateLimiter {
    /// A limiter in memory, or on `shared` Redis. With Redis and inside a
    /// Tokio runtime, starts the task that gives back the unused part of
    /// expired leases.
    pub fn new(shared: Option<SharedStore>) -> Self {
        let shared = shared.map(Arc::new);
        let leases = Arc::new(Slots::new());
        if let Some(store) = &shared {
            let store = store.clone();
            lease::spawn_sweeper(&leases, RateSlot::sweep, move |key, unused| {
                let store = store.clone();
                async move {
                    store.lease_cells(&key, 1, 1, 0, Some(unused)).await;
                }
            });
        }
        Self {
            local: Mutex::new(HashMap::new()),
            shared,
            leases,
        }
    }

    /// The Redis store this limiter shares its limits through, if any
    /// (other limits of the instance share it too, and its breaker).
    pub fn shared_store(&self) -> Option<SharedStore> {
        self.shared.as_deref().cloned()
    }

    /// Takes one request from `key`'s budget of `limit` per minute.
    pub async fn check(&self, key: &str, limit: u32) -> Decision {
        let minute = Duration::from_micros(gcra::PERIOD_MICROS as u64);
        self.check_over(key, limit, minute).await
    }

    /// Takes one request from `key`'s budget of `limit` per `period` (an
    /// hour, a day): the whole budget may be spent at once, then it comes
    /// back one request every `period / limit`. Use keys distinct from
    /// per-minute ones.
    pub async fn check_over(&self, key: &str, limit: u32, period: Duration) -> Decision {
        let limit = limit.max(1);
        let period = i64::try_from(period.as_micros()).unwrap_or(i64::MAX).max(1);
        if let Some(shared) = &self.shared {
            let want = rate_lease_size(limit, period);
            let decision = if want > 1 {
                self.check_leased(shared, key, limit, period, want).await
            } else {
                let grant = shared.lease_cells(key, limit, period, 1, None).await;
                grant.map(|grant| grant.decision(limit))
            };
            if let Some(decision) = decision {
                return decision;
            }
        }
        self.check_local(key, limit, period)
    }

    /// A decision from this instance's lease of `key`, or from a new lease
    /// of `want` cells (giving back what is left of the expired one in the
    /// same call). `None` when Redis is unavailable.
    async fn check_leased(
        &self,
        shared: &SharedStore,
        key: &str,
        limit: u32,
        period: i64,
        want: u32,
    ) -> Option<Decision> {
        let arrived = Instant::now();
        let slot = self.leases.get(key);
        let mut slot = slot.lock().await;
        let now = Instant::now();
        if let Some(decision) = slot.take(now, limit, period) {
            return Some(decision);
        }
        if slot.failed_since(arrived) {
            return None;
        }
        let give_back = slot.release();
        match shared
            .lease_cells(key, limit, period, want, give_back)
            .await
        {
            Some(grant) => Some(slot.start(grant, limit, period, Instant::now())),
            None => {
                // What was left is lost to the shared budget (under-admission
                // only); the requests that queued behind this one fall back.
                slot.failed(Instant::now());
                None
            }
        }
    }

    fn check_local(&self, key: &str, limit: u32, period: i64) -> Decision {
        let now = now_micros();
        let mut state = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if state.len() > 100_000 {
            // Forget keys whose budget is full again: they hold no state.
            state.retain(|_, tat| *tat > now);
        }
        // A key seen before is updated in place: no allocation per request.
        if let Some(tat) = state.get_mut(key) {
            let (decision, new_tat) = gcra::decide_over(Some(*tat), now, limit, period);
            if let Some(new_tat) = new_tat {
                *tat = new_tat;
            }
            return decision;
        }
        let (decision, new_tat) = gcra::decide_over(None, now, limit, period);
        if let Some(new_tat) = new_tat {
            state.insert(key.to_string(), new_tat);
        }
        decision
    }
}

pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_gets_its_limit_then_is_refused() {
        let limiter = RateLimiter::new(None);
        for n in 0..10 {
            let d = limiter.check("org", 10).await;
            assert!(d.allowed, "request {n}");
            assert_eq!(d.remaining, 9 - n);
        }
        let refused = limiter.check("org", 10).await;
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::from_secs(5));
        assert!(refused.retry_after <= Duration::from_secs(6));
        assert!(
            limiter.check("other", 10).await.allowed,
            "keys are separate"
        );
    }
}
