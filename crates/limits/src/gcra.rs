//! The GCRA decision, as pure arithmetic on microseconds.

use std::time::Duration;

/// Window of every limit: limits are "per minute".
pub const PERIOD_MICROS: i64 = 60_000_000;

/// The outcome of one rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests that could still be made right now.
    pub remaining: u32,
    /// Time until the whole budget is available again.
    pub reset_after: Duration,
    /// When refused: time until one request is allowed.
    pub retry_after: Duration,
}

/// Time between two requests at a steady `limit` per `period` microseconds;
/// at least 1 µs (limits above 60 million a minute are as good as
/// unlimited).
pub fn interval_over(limit: u32, period: i64) -> i64 {
    (period.max(1) / i64::from(limit.max(1))).max(1)
}

/// Decides a request at `now` for a key whose theoretical arrival time is
/// `tat`; returns the decision and, when allowed, the new arrival time.
#[cfg(test)]
pub fn decide(tat: Option<i64>, now: i64, limit: u32) -> (Decision, Option<i64>) {
    decide_over(tat, now, limit, PERIOD_MICROS)
}

/// [`decide`] for a budget of `limit` per `period` microseconds (an hour,
/// a day) instead of per minute.
pub fn decide_over(tat: Option<i64>, now: i64, limit: u32, period: i64) -> (Decision, Option<i64>) {
    let period = period.max(1);
    let interval = interval_over(limit, period);
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let micros = |m: i64| Duration::from_micros(m.max(0) as u64);
    if new_tat - now > period {
        let decision = Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_after: micros(tat - now),
            retry_after: micros(new_tat - now - period),
        };
        return (decision, None);
    }
    let remaining = ((period - (new_tat - now)) / interval).max(0) as u32;
    let decision = Decision {
        allowed: true,
        limit,
        remaining,
        reset_after: micros(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_one_request_per_interval() {
        // 60 per minute: one per second.
        let mut tat = None;
        let now = 1_000_000_000;
        for _ in 0..60 {
            let (d, new) = decide(tat, now, 60);
            assert!(d.allowed);
            tat = new;
        }
        let (refused, none) = decide(tat, now, 60);
        assert!(!refused.allowed && none.is_none());
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // One second later exactly one more request fits.
        let (d, new) = decide(tat, now + 1_000_000, 60);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let (d, _) = decide(new, now + 1_000_000, 60);
        assert!(!d.allowed);
    }

    #[test]
    fn a_daily_budget_refills_one_per_share_of_the_day() {
        let day = 24 * 3600 * 1_000_000;
        let mut tat = None;
        let now = 5_000_000;
        for n in 0..10 {
            let (d, new) = decide_over(tat, now, 10, day);
            assert!(d.allowed, "mail {n}");
            tat = new;
        }
        let (refused, _) = decide_over(tat, now, 10, day);
        assert!(!refused.allowed);
        // One more after a tenth of the day (2.4 hours).
        assert_eq!(refused.retry_after, Duration::from_secs(8640));
        assert!(decide_over(tat, now + 8_640_000_000, 10, day).0.allowed);
    }

    #[test]
    fn huge_limits_do_not_divide_by_zero() {
        let (d, _) = decide(None, 0, u32::MAX);
        assert!(d.allowed);
    }

    #[test]
    fn no_double_burst_at_a_window_edge() {
        // Spend the whole budget at t = 59 s; at t = 61 s only ~2 more fit,
        // where a fixed window would allow another 10.
        let mut tat = None;
        let start = 59_000_000;
        for _ in 0..10 {
            tat = decide(tat, start, 10).1;
        }
        let later = 61_000_000;
        let mut allowed = 0;
        for _ in 0..10 {
            let (d, new) = decide(tat, later, 10);
            if d.allowed {
                allowed += 1;
                tat = new;
            }
        }
        assert_eq!(allowed, 0, "2 s is less than one 6 s interval");
    }
}
