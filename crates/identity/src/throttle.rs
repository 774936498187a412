//! Brute-force protection for sign-in: failed attempts are counted per key
//! (an account, a client address) over a sliding window; once a key reaches
//! its limit, attempts are refused until its oldest failure leaves the
//! window. Only failures count, so a person who types their password right
//! is never slowed down.
//!
//! In memory, per instance. (Shared limits across instances come with the
//! Redis-backed limiter.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys kept before stale ones are swept, to bound memory.
const SWEEP_ABOVE: usize = 10_000;

pub struct FailureThrottle {
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl FailureThrottle {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when `key` has `max` failures in the window.
    pub fn check(&self, key: &str, max: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = failures.get_mut(key) else {
            return Ok(());
        };
        Self::expire(times, now, self.window);
        if times.len() >= max as usize {
            let oldest = times.front().copied().unwrap_or(now);
            let retry = (oldest + self.window).saturating_duration_since(now);
            return Err(retry.max(Duration::from_secs(1)));
        }
        Ok(())
    }

    pub fn record_failure(&self, key: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_ABOVE {
            let window = self.window;
            failures.retain(|_, times| {
                Self::expire(times, now, window);
                !times.is_empty()
            });
        }
        let times = failures.entry(key.to_string()).or_default();
        Self::expire(times, now, self.window);
        times.push_back(now);
    }

    pub fn clear(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(key);
    }

    fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_applies_after_max_failures_and_lifts_with_the_window() {
        let throttle = FailureThrottle::new(Duration::from_millis(200));
        for _ in 0..3 {
            assert!(throttle.check("a", 3).is_ok());
            throttle.record_failure("a");
        }
        let retry = throttle.check("a", 3).unwrap_err();
        assert!(retry >= Duration::from_secs(1));
        assert!(throttle.check("b", 3).is_ok(), "keys are independent");
        std::thread::sleep(Duration::from_millis(250));
        assert!(throttle.check("a", 3).is_ok(), "lifts by itself");
    }

    #[test]
    fn clearing_forgets_failures() {
        let throttle = FailureThrottle::new(Duration::from_secs(60));
        throttle.record_failure("a");
        throttle.clear("a");
        assert!(throttle.check("a", 1).is_ok());
    }
}
