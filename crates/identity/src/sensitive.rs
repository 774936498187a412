//! The per-address budgets of sensitive routes (sign-in, sign-up, password
//! reset…): requests per minute per client address, in the server's rate
//! limiter (shared through Redis when configured). The API's middleware and
//! the console's pages doing the same work count against the same budget.

use std::sync::Arc;

use landlord_core::ApiError;
use landlord_limits::{Decision, RateLimiter};

/// The budgets' state: small, because every request clones it.
#[derive(Clone)]
pub struct SensitiveLimits {
    pub limiter: Arc<RateLimiter>,
    pub per_minute: u32,
}

impl SensitiveLimits {
    /// Takes one of `ip`'s requests to the sensitive `route`.
    pub async fn decide(&self, route: &str, ip: &str) -> Decision {
        let key = format!("route:{route}:ip:{ip}");
        self.limiter.check(&key, self.per_minute).await
    }

    /// The 429 answer to a request `decision` refused.
    pub fn refusal(&self, route: &str, decision: &Decision) -> ApiError {
        ApiError::RateLimited {
            message: format!(
                "too many requests to {route} from this address; at most {} a minute",
                self.per_minute
            ),
            retry_after_secs: decision.retry_after.as_micros().div_ceil(1_000_000).max(1) as u64,
        }
    }
}

/// Takes one of `ip`'s requests to the sensitive `route`, or refuses with
/// 429.
pub async fn check(state: &SensitiveLimits, route: &str, ip: &str) -> Result<(), ApiError> {
    let decision = state.decide(route, ip).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(state.refusal(route, &decision))
    }
}
