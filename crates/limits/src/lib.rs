//! Rate limits and monthly quotas.
//!
//! Rate limits use GCRA (the generic cell rate algorithm): a key of `limit`
//! requests per minute may spend its whole minute at once, then one request
//! every `60 s / limit`. Unlike fixed windows, it never lets through a burst
//! at the end of one window and another at the start of the next.
//!
//! State lives in this process by default. With Redis configured it lives in
//! Redis (one Lua script per decision, on Redis's clock), so every instance
//! shares one limit. If Redis stops answering, decisions fall back to this
//! process's memory — the server keeps serving, each instance then limiting
//! on its own — and a warning is logged (at most every 10 s); Redis is used
//! again as soon as it answers.

mod gcra;
mod quota;
mod shared;

pub use gcra::Decision;
pub use quota::{month_key, month_start_ms, next_month_start_ms, QuotaCounter};
pub use shared::SharedStore;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Rate limiter over named keys.
pub struct RateLimiter {
    local: Mutex<HashMap<String, i64>>,
    shared: Option<SharedStore>,
}

impl RateLimiter {
    pub fn new(shared: Option<SharedStore>) -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Takes one request from `key`'s budget of `limit` per minute.
    pub async fn check(&self, key: &str, limit: u32) -> Decision {
        self.check_over(key, limit, Duration::from_secs(60)).await
    }

    /// Takes one request from `key`'s budget of `limit` per `period` (an
    /// hour, a day): the whole budget may be spent at once, then it comes
    /// back one request every `period / limit`. Use keys distinct from
    /// per-minute ones.
    pub async fn check_over(&self, key: &str, limit: u32, period: Duration) -> Decision {
        let limit = limit.max(1);
        let period = i64::try_from(period.as_micros()).unwrap_or(i64::MAX).max(1);
        if let Some(shared) = &self.shared {
            if let Some(decision) = shared.gcra_over(key, limit, period).await {
                return decision;
            }
        }
        self.check_local(key, limit, period)
    }

    fn check_local(&self, key: &str, limit: u32, period: i64) -> Decision {
        let now = now_micros();
        let mut state = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if state.len() > 100_000 {
            // Forget keys whose budget is full again: they hold no state.
            state.retain(|_, tat| *tat > now);
        }
        let tat = state.get(key).copied();
        let (decision, new_tat) = gcra::decide_over(tat, now, limit, period);
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
