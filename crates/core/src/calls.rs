//! Outcomes of real calls to the integrations (the SMTP server, the
//! payment providers, each WhatsApp channel), counted in memory: the code
//! that makes a call bumps a [`Counter`] (one atomic addition), and every
//! instance periodically moves what it counted into the database, where
//! integration health sums the last minutes over all instances.
//!
//! Counts belong to the database they will be written to: [`CallCounts::of`]
//! answers the same counts for every configuration naming the same
//! database, so the mailer, the providers and the flusher built from one
//! instance's configuration share them, and two servers in one process
//! with different databases (tests) do not mix theirs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crate::Config;

/// One call, in the upper half of a counter; a failed one adds one to the
/// lower half too, so that both move in one atomic addition.
const ONE_CALL: u64 = 1 << 32;
const LOWER_HALF: u64 = ONE_CALL - 1;

/// The calls to one integration, and how many failed, since the last
/// [`CallCounts::take`].
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Counts one call; `ok` false when it failed.
    pub fn record(&self, ok: bool) {
        let add = if ok { ONE_CALL } else { ONE_CALL + 1 };
        self.0.fetch_add(add, Ordering::Relaxed);
    }

    fn take(&self) -> (u64, u64) {
        let both = self.0.swap(0, Ordering::Relaxed);
        (both >> 32, both & LOWER_HALF)
    }
}

/// Calls counted per integration (`smtp`, `stripe`, `paystack`,
/// `whatsapp:<channel id>`).
#[derive(Debug, Clone, Default)]
pub struct CallCounts {
    counters: Arc<RwLock<HashMap<String, Arc<Counter>>>>,
}

/// The counts of every database this process writes to.
static BY_DATABASE: LazyLock<RwLock<HashMap<String, CallCounts>>> = LazyLock::new(Default::default);

/// What a call's HTTP status says of the provider: failed when it could
/// not serve (5xx), throttled (429) or refused the credentials (401, 403);
/// any other answer (a declined card, an unknown reference) is a working
/// provider answering about the request.
pub fn failed_status(status: u16) -> bool {
    status >= 500 || matches!(status, 401 | 403 | 429)
}

impl CallCounts {
    /// The counts of the database `config` names.
    pub fn of(config: &Config) -> CallCounts {
        let key = match &config.database_url {
            Some(url) => url.expose_str().to_string(),
            None => config.data_dir.display().to_string(),
        };
        if let Some(counts) = BY_DATABASE
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return counts.clone();
        }
        BY_DATABASE
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone()
    }

    /// The counter of `integration`, to keep and bump on every call.
    pub fn counter(&self, integration: &str) -> Arc<Counter> {
        if let Some(counter) = self
            .counters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(integration)
        {
            return counter.clone();
        }
        self.counters
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(integration.to_string())
            .or_default()
            .clone()
    }

    /// Counts one call to `integration`.
    pub fn record(&self, integration: &str, ok: bool) {
        self.counter(integration).record(ok);
    }

    /// What was counted since the last take, per integration (calls,
    /// failed calls), and starts counting again from zero.
    pub fn take(&self) -> Vec<(String, u64, u64)> {
        let counters = self.counters.read().unwrap_or_else(PoisonError::into_inner);
        counters
            .iter()
            .map(|(name, counter)| {
                let (calls, failed) = counter.take();
                (name.clone(), calls, failed)
            })
            .filter(|(_, calls, _)| *calls > 0)
            .collect()
    }

    /// Puts back counts taken but not written (the database failed).
    pub fn give_back(&self, taken: &[(String, u64, u64)]) {
        for (name, calls, failed) in taken {
            self.counter(name)
                .0
                .fetch_add(calls * ONE_CALL + failed, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_failures_are_counted_taken_once_and_given_back() {
        let counts = CallCounts::default();
        let smtp = counts.counter("smtp");
        smtp.record(true);
        smtp.record(false);
        counts.record("smtp", true);
        counts.record("whatsapp:c1", false);
        let mut taken = counts.take();
        taken.sort();
        assert_eq!(
            taken,
            [
                ("smtp".to_string(), 3, 1),
                ("whatsapp:c1".to_string(), 1, 1)
            ]
        );
        assert!(counts.take().is_empty(), "taken once");
        counts.give_back(&taken);
        let mut again = counts.take();
        again.sort();
        assert_eq!(again, taken);
    }

    #[test]
    fn statuses_that_say_the_provider_failed() {
        for status in [500, 502, 503, 429, 401, 403] {
            assert!(failed_status(status), "{status}");
        }
        for status in [200, 201, 400, 402, 404, 409] {
            assert!(!failed_status(status), "{status}");
        }
    }
}
