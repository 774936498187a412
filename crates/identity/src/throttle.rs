//! Brute-force protection for sign-in: attempts are counted per (account,
//! client address) tightly, per account loosely and per client address,
//! over a sliding window; once a key reaches its limit, attempts are
//! refused until its oldest counted attempt leaves the window.
//!
//! Each attempt is reserved *before* the password is checked, so guesses
//! sent in parallel count against each other (checking first and counting
//! after let them all through). A successful sign-in gives its reservation
//! back and clears its (account, address) and account counts: only failures
//! stay counted, so a person who types their password right is never slowed
//! down. With Redis the counts are shared by every instance (see
//! [`landlord_limits::AttemptWindow`]); without it, or during an outage,
//! each instance counts on its own.

use std::time::Duration;

use landlord_core::{ApiError, Config};
use landlord_limits::{AttemptWindow, Reservation, SharedStore};

pub struct FailureThrottle {
    attempts: AttemptWindow,
}

/// A sign-in attempt in progress: [`FailureThrottle::succeeded`] when the
/// password was right; dropped, it counts as a failure.
#[must_use = "a successful attempt is given back with FailureThrottle::succeeded"]
pub struct SignInAttempt {
    reservation: Reservation,
    pair_key: String,
    account_key: String,
}

/// The key of an account's attempts from every address.
pub(crate) fn account_key(email: &str) -> String {
    format!("account:{email}")
}

impl FailureThrottle {
    pub fn new(window: Duration, shared: Option<SharedStore>) -> Self {
        Self {
            attempts: AttemptWindow::new(window, shared),
        }
    }

    /// Reserves a sign-in attempt of `email` (normalized) from `ip`, or 429
    /// with `Retry-After` when any of the three limits is reached.
    pub async fn begin(
        &self,
        config: &Config,
        email: &str,
        ip: &str,
    ) -> Result<SignInAttempt, ApiError> {
        let pair_key = format!("account:{email}:ip:{ip}");
        let account_key = account_key(email);
        let ip_key = format!("ip:{ip}");
        let limits = [
            (
                pair_key.as_str(),
                config.login_max_failures_per_account_address,
            ),
            (account_key.as_str(), config.login_max_failures_per_account),
            (ip_key.as_str(), config.login_max_failures_per_ip),
        ];
        match self.attempts.reserve(&limits).await {
            Ok(reservation) => Ok(SignInAttempt {
                reservation,
                pair_key,
                account_key,
            }),
            Err(retry) => Err(ApiError::RateLimited {
                message: "too many failed sign-in attempts; try again later".into(),
                retry_after_secs: retry.as_micros().div_ceil(1_000_000).max(1) as u64,
            }),
        }
    }

    /// The attempt signed in: it does not count, and the account's counts
    /// (from this address and from all) start afresh. The address's count
    /// across accounts keeps its earlier failures.
    pub async fn succeeded(&self, attempt: SignInAttempt) {
        let clear = [attempt.pair_key.as_str(), attempt.account_key.as_str()];
        self.attempts.give_back(attempt.reservation, &clear).await;
    }

    /// The password could not be checked: the attempt does not count.
    pub async fn abandoned(&self, attempt: SignInAttempt) {
        self.attempts.give_back(attempt.reservation, &[]).await;
    }

    /// Forgets the failures of `key` (a password reset clears the account's).
    pub async fn clear(&self, key: &str) {
        self.attempts.clear(key).await;
    }
}
