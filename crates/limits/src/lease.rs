//! Leases: budgets taken from Redis in chunks, so that an instance decides
//! most requests from its own memory.
//!
//! A rate lease is `k` GCRA cells that Redis has already counted (its TAT
//! moved by `k × interval`); a quota lease is `k` requests already added to
//! the month's counter. Redis grants at most what the shared budget has
//! room for, so the instances together never admit more than Redis granted.
//! A lease lives [`LEASE_TTL`]; what is left of it then is given back to
//! Redis (with the next lease of the same key, or by the background sweep),
//! so cells held by an instance that stopped needing them are missing from
//! the others' budget for about a second at most.
//!
//! Each key has one slot behind an async lock: while one request fetches a
//! lease, the others for the same key wait for it instead of fetching their
//! own (which would multiply what an instance holds by its concurrency).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::gcra::{interval_over, Decision};

/// How long an instance may use a lease before what is left goes back.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(1);

/// Largest lease, in cells or requests.
pub(crate) const MAX_LEASE: u32 = 1000;

/// A rate lease holds what the limit refills in this time: limit / 600 for
/// a per-minute limit, so limits under 1,200 a minute (every default plan)
/// take one cell per request, exactly as without leases.
const LEASE_REFILL_MICROS: i64 = 100_000;

/// How often expired leases of idle keys are given back.
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

/// A quota lease takes at most this share of what is left of the month's
/// cap (1 / 100): within the last 200 requests of a hard cap every lease is
/// one request, so the cap is exact.
pub(crate) const QUOTA_LEASE_SHARE: i64 = 100;

/// Cells a rate lease asks for: what `limit` per `period` microseconds
/// refills in 100 ms, between 1 and [`MAX_LEASE`] (and never above the
/// limit).
pub(crate) fn rate_lease_size(limit: u32, period: i64) -> u32 {
    let interval = interval_over(limit, period);
    let cells = (LEASE_REFILL_MICROS / interval).clamp(1, i64::from(MAX_LEASE));
    (cells as u32).min(limit.max(1))
}

/// Unused cells of an expired rate lease, to give back to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateGiveBack {
    /// The unused cells as Redis time: cells × interval, in microseconds.
    pub micros: i64,
    /// The lease's last cell (Redis's TAT after it was granted), in Redis
    /// microseconds: only the part of the unused cells still ahead of
    /// Redis's clock is given back, so giving back never frees a cell that
    /// time had already freed.
    pub end: i64,
}

/// What Redis answered to a rate lease request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateGrant {
    /// Cells granted; 0 when refused.
    pub granted: u32,
    /// Cells still free in Redis after the grant.
    pub remaining: u32,
    /// Time until the whole budget is free again, after the grant.
    pub reset_after: Duration,
    /// When refused: time until one cell is free.
    pub retry_after: Duration,
    /// Redis's TAT after the grant (microseconds).
    pub end: i64,
}

impl RateGrant {
    /// The decision of one request that took this grant's first cell (a
    /// grant of one cell, or a refusal).
    pub fn decision(&self, limit: u32) -> Decision {
        Decision {
            allowed: self.granted > 0,
            limit,
            remaining: self.remaining,
            reset_after: self.reset_after,
            retry_after: self.retry_after,
        }
    }
}

/// This instance's part of one rate limit key.
#[derive(Debug, Default)]
pub(crate) struct RateSlot {
    lease: Option<RateLease>,
    refusal: Option<RateRefusal>,
    /// When Redis last failed to answer for this key.
    redis_failed_at: Option<Instant>,
}

#[derive(Debug)]
struct RateLease {
    limit: u32,
    period: i64,
    interval: i64,
    granted: u32,
    taken: u32,
    end: i64,
    granted_at: Instant,
    /// Time until the budget is full again, as Redis said at the grant.
    reset_at_grant: Duration,
}

/// A refusal from Redis, repeated locally until a cell is free again (no
/// cell is freed before then, except by a give-back: refusing from memory
/// can only refuse a little too long, never admit too much).
#[derive(Debug)]
struct RateRefusal {
    limit: u32,
    period: i64,
    until: Instant,
    full_at: Instant,
}

impl RateSlot {
    /// A decision without Redis: a cell of the current lease, or the
    /// refusal Redis gave while it still holds. `None`: ask Redis.
    pub fn take(&mut self, now: Instant, limit: u32, period: i64) -> Option<Decision> {
        if let Some(refusal) = &self.refusal {
            if refusal.limit == limit && refusal.period == period && now < refusal.until {
                return Some(Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_after: refusal.full_at.saturating_duration_since(now),
                    retry_after: refusal.until - now,
                });
            }
            self.refusal = None;
        }
        let lease = self.lease.as_mut()?;
        if lease.limit != limit
            || lease.period != period
            || lease.taken >= lease.granted
            || now >= lease.granted_at + LEASE_TTL
        {
            return None;
        }
        lease.taken += 1;
        Some(lease.decision(now))
    }

    /// Ends the current lease, returning what is left of it to give back.
    pub fn release(&mut self) -> Option<RateGiveBack> {
        let lease = self.lease.take()?;
        let cells = i64::from(lease.granted - lease.taken);
        (cells > 0).then_some(RateGiveBack {
            micros: cells * lease.interval,
            end: lease.end,
        })
    }

    /// Ends the lease if it expired: what is left of it to give back, and
    /// whether the slot still holds anything worth keeping.
    pub fn sweep(&mut self, now: Instant) -> (Option<RateGiveBack>, bool) {
        let expired = self
            .lease
            .as_ref()
            .is_some_and(|lease| now >= lease.granted_at + LEASE_TTL);
        let give_back = if expired { self.release() } else { None };
        if self.refusal.as_ref().is_some_and(|r| now >= r.until) {
            self.refusal = None;
        }
        let keep = self.lease.is_some() || self.refusal.is_some();
        (give_back, keep)
    }

    /// Whether Redis failed for this key after `since` (a request that
    /// waited behind that failure falls back at once instead of waiting
    /// for Redis again).
    pub fn failed_since(&self, since: Instant) -> bool {
        self.redis_failed_at.is_some_and(|at| at >= since)
    }

    pub fn failed(&mut self, at: Instant) {
        self.redis_failed_at = Some(at);
    }

    /// Starts from Redis's answer: a new lease whose first cell this
    /// request takes, or a refusal.
    pub fn start(&mut self, grant: RateGrant, limit: u32, period: i64, now: Instant) -> Decision {
        if grant.granted == 0 {
            self.refusal = Some(RateRefusal {
                limit,
                period,
                until: now + grant.retry_after,
                full_at: now + grant.reset_after,
            });
            return grant.decision(limit);
        }
        let lease = RateLease {
            limit,
            period,
            interval: interval_over(limit, period),
            granted: grant.granted,
            taken: 1,
            end: grant.end,
            granted_at: now,
            reset_at_grant: grant.reset_after,
        };
        self.refusal = None;
        let decision = lease.decision(now);
        if lease.taken < lease.granted {
            self.lease = Some(lease);
        }
        decision
    }
}

impl RateLease {
    /// The decision shown for a cell of this lease: the budget as Redis
    /// left it at the grant, with the cells this lease still holds counted
    /// as free and the time passed since refilled.
    fn decision(&self, now: Instant) -> Decision {
        let unused = i64::from(self.granted - self.taken);
        let elapsed = now.saturating_duration_since(self.granted_at);
        let until_full = (self.reset_at_grant.as_micros() as i64)
            - (elapsed.as_micros() as i64)
            - unused * self.interval;
        let until_full = until_full.max(0);
        let remaining =
            ((self.period - until_full) / self.interval).clamp(0, i64::from(self.limit));
        Decision {
            allowed: true,
            limit: self.limit,
            remaining: remaining as u32,
            reset_after: Duration::from_micros(until_full as u64),
            retry_after: Duration::ZERO,
        }
    }
}

/// What Redis answered to a quota lease request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotaGrant {
    /// Requests granted; 0 when the cap is reached.
    pub granted: u32,
    /// The month's counter after the grant.
    pub count: i64,
}

/// This instance's part of one quota counter.
#[derive(Debug, Default)]
pub(crate) struct QuotaSlot {
    lease: Option<QuotaLease>,
    refusal: Option<QuotaRefusal>,
    redis_failed_at: Option<Instant>,
}

#[derive(Debug)]
struct QuotaLease {
    granted: u32,
    taken: u32,
    /// Redis's counter after the grant, this lease's requests included.
    count: i64,
    granted_at: Instant,
}

/// A cap Redis said was reached, repeated locally for [`LEASE_TTL`] (only a
/// give-back by another instance could free a request in the meantime).
#[derive(Debug)]
struct QuotaRefusal {
    cap: Option<i64>,
    used: i64,
    until: Instant,
}

impl QuotaSlot {
    /// A reservation without Redis: `Ok(used)` from the current lease, the
    /// refusal Redis gave while it holds, or `None`: ask Redis.
    pub fn take(&mut self, now: Instant, cap: Option<i64>) -> Option<Result<i64, i64>> {
        if let Some(refusal) = &self.refusal {
            if refusal.cap == cap && now < refusal.until {
                return Some(Err(refusal.used));
            }
            self.refusal = None;
        }
        let lease = self.lease.as_mut()?;
        if lease.taken >= lease.granted || now >= lease.granted_at + LEASE_TTL {
            return None;
        }
        lease.taken += 1;
        Some(Ok(lease.used()))
    }

    /// Requests leased and not used yet.
    pub fn unused(&self) -> i64 {
        self.lease
            .as_ref()
            .map_or(0, |lease| i64::from(lease.granted - lease.taken))
    }

    /// Ends the current lease, returning how many requests to give back.
    pub fn release(&mut self) -> u32 {
        self.lease
            .take()
            .map_or(0, |lease| lease.granted - lease.taken)
    }

    /// Ends the lease if it expired: how many requests to give back, and
    /// whether the slot still holds anything worth keeping.
    pub fn sweep(&mut self, now: Instant) -> (Option<u32>, bool) {
        let expired = self
            .lease
            .as_ref()
            .is_some_and(|lease| now >= lease.granted_at + LEASE_TTL);
        let give_back = if expired { self.release() } else { 0 };
        let give_back = (give_back > 0).then_some(give_back);
        if self.refusal.as_ref().is_some_and(|r| now >= r.until) {
            self.refusal = None;
        }
        (give_back, self.lease.is_some() || self.refusal.is_some())
    }

    pub fn failed_since(&self, since: Instant) -> bool {
        self.redis_failed_at.is_some_and(|at| at >= since)
    }

    pub fn failed(&mut self, at: Instant) {
        self.redis_failed_at = Some(at);
    }

    /// Starts from Redis's answer: a new lease whose first request this
    /// one takes, or a refusal.
    pub fn start(&mut self, grant: QuotaGrant, cap: Option<i64>, now: Instant) -> Result<i64, i64> {
        if grant.granted == 0 {
            self.refusal = Some(QuotaRefusal {
                cap,
                used: grant.count,
                until: now + LEASE_TTL,
            });
            return Err(grant.count);
        }
        self.refusal = None;
        let lease = QuotaLease {
            granted: grant.granted,
            taken: 1,
            count: grant.count,
            granted_at: now,
        };
        let used = lease.used();
        if lease.taken < lease.granted {
            self.lease = Some(lease);
        }
        Ok(used)
    }
}

impl QuotaLease {
    /// Requests counted so far: Redis's count at the grant, less what this
    /// lease still holds.
    fn used(&self) -> i64 {
        self.count - i64::from(self.granted - self.taken)
    }
}

/// One slot per key, each behind its own async lock.
pub(crate) struct Slots<S> {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<S>>>>,
}

impl<S: Default> Slots<S> {
    pub fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The slot of `key`, made empty if new.
    pub fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<S>> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = map.get(key) {
            return slot.clone();
        }
        let slot = Arc::new(tokio::sync::Mutex::new(S::default()));
        map.insert(key.to_string(), slot.clone());
        slot
    }

    /// The slot of `key` if there is one.
    pub fn find(&self, key: &str) -> Option<Arc<tokio::sync::Mutex<S>>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).cloned()
    }

    /// Runs `sweep` on every slot not in use (returning what to give back
    /// and whether to keep the slot), forgets slots that hold nothing, and
    /// returns the give-backs by key.
    pub fn sweep<T>(&self, mut sweep: impl FnMut(&mut S) -> (Option<T>, bool)) -> Vec<(String, T)> {
        let mut give_backs = Vec::new();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|key, slot| {
            let Ok(mut slot) = slot.try_lock() else {
                return true;
            };
            let (give_back, keep) = sweep(&mut slot);
            if let Some(give_back) = give_back {
                give_backs.push((key.clone(), give_back));
            }
            keep
        });
        give_backs
    }
}

/// Gives back, every [`SWEEP_INTERVAL`], what is left of the expired
/// leases of keys no request asked for since (the next request of a key
/// gives its own back), and forgets empty slots. Runs until `slots` is
/// dropped; does nothing outside a Tokio runtime.
pub(crate) fn spawn_sweeper<S, T, G, F>(
    slots: &Arc<Slots<S>>,
    sweep: fn(&mut S, Instant) -> (Option<T>, bool),
    give_back: G,
) where
    S: Default + Send + 'static,
    T: Send + 'static,
    G: Fn(String, T) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let slots = Arc::downgrade(slots);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(live) = slots.upgrade() else {
                return;
            };
            let now = Instant::now();
            let give_backs = live.sweep(|slot| sweep(slot, now));
            drop(live);
            for (key, unused) in give_backs {
                give_back(key, unused).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    #[test]
    fn small_limits_take_one_cell_large_ones_a_tenth_of_a_second() {
        assert_eq!(rate_lease_size(10, MINUTE), 1);
        assert_eq!(rate_lease_size(300, MINUTE), 1);
        assert_eq!(rate_lease_size(1199, MINUTE), 1);
        assert_eq!(rate_lease_size(1200, MINUTE), 2);
        assert_eq!(rate_lease_size(60_000, MINUTE), 100);
        assert_eq!(rate_lease_size(60_000_000, MINUTE), MAX_LEASE);
        // A daily budget refills slowly: one cell at a time.
        assert_eq!(rate_lease_size(100_000, 24 * 3600 * 1_000_000), 1);
        // Never more than the limit, even over a tiny period.
        assert_eq!(rate_lease_size(3, 1_000), 3);
    }

    fn grant(granted: u32, remaining: u32) -> RateGrant {
        RateGrant {
            granted,
            remaining,
            reset_after: Duration::from_millis(50),
            retry_after: Duration::ZERO,
            end: 5_000_000,
        }
    }

    #[test]
    fn a_rate_lease_admits_what_was_granted_then_asks_again() {
        let mut slot = RateSlot::default();
        let now = Instant::now();
        // 60,000 a minute: 1 ms a cell; 50 cells granted, 59,950 left.
        let first = slot.start(grant(50, 59_950), 60_000, MINUTE, now);
        assert!(first.allowed);
        // The 49 cells still held count as free.
        assert_eq!(first.remaining, 59_999);
        assert_eq!(first.reset_after, Duration::from_millis(1));
        for _ in 1..50 {
            assert!(slot.take(now, 60_000, MINUTE).is_some_and(|d| d.allowed));
        }
        let last = slot.take(now, 60_000, MINUTE);
        assert!(last.is_none(), "the lease is used up: ask Redis");
        assert_eq!(slot.release(), None, "nothing left to give back");
    }

    #[test]
    fn what_is_left_of_an_expired_lease_goes_back() {
        let mut slot = RateSlot::default();
        let now = Instant::now();
        slot.start(grant(50, 0), 60_000, MINUTE, now);
        slot.take(now, 60_000, MINUTE);
        let later = now + LEASE_TTL;
        assert!(slot.take(later, 60_000, MINUTE).is_none(), "expired");
        let (give_back, keep) = slot.sweep(later);
        assert_eq!(
            give_back,
            Some(RateGiveBack {
                micros: 48_000,
                end: 5_000_000
            })
        );
        assert!(!keep);
    }

    #[test]
    fn a_lease_for_another_limit_is_not_used() {
        let mut slot = RateSlot::default();
        let now = Instant::now();
        slot.start(grant(50, 0), 60_000, MINUTE, now);
        assert!(slot.take(now, 120_000, MINUTE).is_none());
        assert_eq!(slot.release().map(|g| g.micros), Some(49_000));
    }

    #[test]
    fn a_refusal_is_repeated_until_a_cell_is_free() {
        let mut slot = RateSlot::default();
        let now = Instant::now();
        let refused = RateGrant {
            granted: 0,
            remaining: 0,
            reset_after: Duration::from_secs(60),
            retry_after: Duration::from_millis(100),
            end: 0,
        };
        assert!(!slot.start(refused, 60_000, MINUTE, now).allowed);
        let again = slot.take(now + Duration::from_millis(40), 60_000, MINUTE);
        let again = again.expect("refused from memory");
        assert!(!again.allowed);
        assert_eq!(again.retry_after, Duration::from_millis(60));
        assert!(slot
            .take(now + Duration::from_millis(100), 60_000, MINUTE)
            .is_none());
    }

    #[test]
    fn a_quota_lease_counts_used_as_redis_less_what_is_held() {
        let mut slot = QuotaSlot::default();
        let now = Instant::now();
        // Redis counted 100 before, 10 granted: 110.
        let grant = QuotaGrant {
            granted: 10,
            count: 110,
        };
        assert_eq!(slot.start(grant, None, now), Ok(101));
        assert_eq!(slot.take(now, None), Some(Ok(102)));
        assert_eq!(slot.unused(), 8);
        let later = now + LEASE_TTL;
        assert_eq!(slot.take(later, None), None);
        assert_eq!(slot.sweep(later), (Some(8), false));
        assert_eq!(slot.unused(), 0);
    }

    #[test]
    fn a_reached_cap_is_repeated_for_a_lease_lifetime_unless_the_cap_changes() {
        let mut slot = QuotaSlot::default();
        let now = Instant::now();
        let full = QuotaGrant {
            granted: 0,
            count: 1000,
        };
        assert_eq!(slot.start(full, Some(1000), now), Err(1000));
        assert_eq!(slot.take(now, Some(1000)), Some(Err(1000)));
        assert_eq!(slot.take(now, None), None, "an upgrade asks Redis");
    }
}
