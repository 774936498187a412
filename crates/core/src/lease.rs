//! Leases kept alive while their work runs: jobs, webhook deliveries and
//! in-flight `Idempotency-Key` claims each hold a short lease that a
//! [`Heartbeat`] renews, so that a dead instance's work is taken over
//! within one lease rather than after a long fixed one.

use std::future::Future;
use std::time::Duration;

/// How often a lease of `lease` is renewed: a third of it, so that two
/// renewals may be late (a slow database) before the lease lapses.
pub fn renewal_period(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(10))
}

/// A background task that renews a lease every period until it is dropped
/// (the work ended, or was cancelled with its request) or until a renewal
/// finds the lease lost.
#[must_use = "the lease is renewed only while the heartbeat is kept"]
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    /// Calls `renew` every `period`, the first time one period from now.
    /// `renew` answers false when the lease is no longer ours: the
    /// heartbeat then stops (renewing someone else's lease would keep them
    /// from recovering a dead holder's work).
    pub fn start<F, Fut>(period: Duration, mut renew: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = bool> + Send,
    {
        Self(tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if !renew().await {
                    break;
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn renews_until_dropped_or_lost() {
        let beats = Arc::new(AtomicU32::new(0));
        let counted = beats.clone();
        let heartbeat = Heartbeat::start(Duration::from_secs(1), move || {
            let counted = counted.clone();
            async move { counted.fetch_add(1, Ordering::SeqCst) < 1 }
        });
        tokio::time::sleep(Duration::from_millis(5500)).await;
        assert_eq!(
            beats.load(Ordering::SeqCst),
            2,
            "stops once the lease is lost"
        );
        drop(heartbeat);

        let beats = Arc::new(AtomicU32::new(0));
        let counted = beats.clone();
        let heartbeat = Heartbeat::start(Duration::from_secs(1), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(3500)).await;
        drop(heartbeat);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(beats.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn renews_three_times_a_lease() {
        assert_eq!(
            renewal_period(Duration::from_secs(30)),
            Duration::from_secs(10)
        );
    }
}
