//! The circuit breaker around Redis.
//!
//! Closed, every limit decision asks Redis (within its 250 ms budget). The
//! first call that fails or times out opens it: from then on every decision
//! is taken from this instance's memory at once, without touching Redis, so
//! an outage costs one budget per call already in flight and nothing after.
//! A background probe (see [`crate::SharedStore`]) pings Redis every
//! [`PROBE_INTERVAL`] while the breaker is open and closes it when Redis
//! answers: limits are shared again.
//!
//! The state machine is here, pure: no clock, no I/O. Each call to Redis
//! carries the breaker's *epoch* (how many times it closed) from when it
//! started; a failure reported with an older epoch is a call that began
//! before Redis came back, and does not reopen the breaker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How often an open breaker pings Redis.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// What a report changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// This report opened the breaker (log it once, fall back).
    Opened,
    /// This report closed it (log it once, shared again).
    Closed,
    /// Nothing changed.
    Unchanged,
}

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    open: AtomicBool,
    epoch: AtomicU64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(epoch)` when a call may go to Redis, `None` when the breaker is
    /// open (decide from memory at once).
    pub fn admit(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::Acquire);
        (!self.open.load(Ordering::Acquire)).then_some(epoch)
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A call admitted at `epoch` failed or timed out.
    pub fn failed(&self, epoch: u64) -> Transition {
        if self.epoch.load(Ordering::Acquire) != epoch {
            // Started before the last recovery: says nothing about Redis now.
            return Transition::Unchanged;
        }
        match self
            .open
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Transition::Opened,
            Err(_) => Transition::Unchanged,
        }
    }

    /// The probe got an answer from Redis.
    pub fn probe_answered(&self) -> Transition {
        if !self.open.load(Ordering::Acquire) {
            return Transition::Unchanged;
        }
        // The epoch moves first, so that a failure of a call admitted before
        // this recovery cannot reopen the breaker.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match self
            .open
            .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Transition::Closed,
            Err(_) => Transition::Unchanged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_breaker_admits_calls() {
        let breaker = Breaker::new();
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(), Some(0));
        assert_eq!(
            breaker.probe_answered(),
            Transition::Unchanged,
            "a probe of a closed breaker changes nothing"
        );
        assert_eq!(breaker.admit(), Some(0));
    }

    #[test]
    fn one_failure_opens_it_and_then_nothing_is_admitted() {
        let breaker = Breaker::new();
        let epoch = breaker.admit().expect("closed");
        assert_eq!(breaker.failed(epoch), Transition::Opened);
        assert!(breaker.is_open());
        assert_eq!(breaker.admit(), None, "decisions fall back at once");
        // The other calls in flight fail too: the transition is reported once.
        assert_eq!(breaker.failed(epoch), Transition::Unchanged);
        assert_eq!(breaker.failed(epoch), Transition::Unchanged);
        assert!(breaker.is_open());
    }

    #[test]
    fn an_answered_probe_closes_it_once() {
        let breaker = Breaker::new();
        let epoch = breaker.admit().expect("closed");
        breaker.failed(epoch);
        assert_eq!(breaker.probe_answered(), Transition::Closed);
        assert!(!breaker.is_open());
        assert_eq!(breaker.admit(), Some(epoch + 1));
        assert_eq!(breaker.probe_answered(), Transition::Unchanged);
    }

    #[test]
    fn a_late_failure_from_before_the_recovery_does_not_reopen_it() {
        let breaker = Breaker::new();
        let before = breaker.admit().expect("closed");
        let slow = breaker.admit().expect("closed");
        breaker.failed(before);
        breaker.probe_answered();
        // A call admitted before the outage times out only now.
        assert_eq!(breaker.failed(slow), Transition::Unchanged);
        assert!(!breaker.is_open());
        // A call admitted after the recovery that fails does reopen it.
        let after = breaker.admit().expect("closed");
        assert_eq!(breaker.failed(after), Transition::Opened);
        assert_eq!(breaker.admit(), None);
    }

    #[test]
    fn it_cycles_through_outages() {
        let breaker = Breaker::new();
        for outage in 0..3 {
            let epoch = breaker.admit().expect("closed between outages");
            assert_eq!(epoch, outage);
            assert_eq!(breaker.failed(epoch), Transition::Opened);
            assert_eq!(breaker.admit(), None);
            assert_eq!(breaker.probe_answered(), Transition::Closed);
        }
    }
}
