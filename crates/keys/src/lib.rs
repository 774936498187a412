//! API keys: issued to programs, shown once, stored as hashes.
//!
//! [`ApiKeyGuard`] is the layer in front of every API-key route: it
//! authenticates the key (from a short-lived cache, so a hit touches no
//! database), applies the organization's and the key's rate limits and the
//! monthly quota, hands the handler an [`ApiKeyContext`], and records the
//! request for metering once it is answered.

pub mod admission;
pub mod departure;
pub mod guard;
pub mod last_used;
pub mod manage;
pub mod overview;
pub mod pages;
pub mod routes;
pub mod sensitive;
pub mod store;
pub mod thresholds;

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Config, Db};
use landlord_identity::IdentityState;
use landlord_limits::{QuotaCounter, RateLimiter};
use landlord_metering::UsageRecorder;

pub use admission::{ApiKeyContext, BadKey, Refusal, KEY_PREFIX};
pub use guard::{ApiKeyGuard, ApiKeyGuardLayer};
pub use last_used::LastUsed;

/// Most "no such key" answers remembered at once. Small: once bad keys are
/// limited per address, it only spares the database repeated lookups of
/// the same wrong key.
pub const NEGATIVE_CACHE_CAPACITY: u64 = 10_000;

/// What the key routes and the guard need: one `Arc` (the guard and every
/// handler clone it per request), the caches inside it.
#[derive(Clone)]
pub struct KeysState(Arc<KeysInner>);

/// The services and caches behind [`KeysState`], reached through `Deref`.
pub struct KeysInner {
    pub db: Db,
    pub config: Arc<Config>,
    pub identity: IdentityState,
    /// Keys found, by hash (a revoked key stays here until its entry
    /// expires or is invalidated); misses go to `missing`.
    pub cache: moka::sync::Cache<String, Arc<admission::KeyRecord>>,
    /// Hashes of keys that do not exist: bounded on its own
    /// ([`NEGATIVE_CACHE_CAPACITY`]), same lifetime as `cache`.
    pub missing: moka::sync::Cache<String, ()>,
    /// Client addresses over `invalid_api_key_per_minute`, until when.
    pub invalid_key_blocked: moka::sync::Cache<String, std::time::Instant>,
    /// Usage thresholds (`org:YYYY-MM:percent`) this instance knows are
    /// emitted ([`thresholds`]).
    pub thresholds_emitted: moka::sync::Cache<String, ()>,
    pub limiter: Arc<RateLimiter>,
    pub quota: Arc<QuotaCounter>,
    pub usage: UsageRecorder,
}

impl KeysState {
    pub fn new(
        identity: IdentityState,
        limiter: Arc<RateLimiter>,
        quota: Arc<QuotaCounter>,
        usage: UsageRecorder,
    ) -> Self {
        let ttl = Duration::from_millis(identity.config.api_key_cache_ms.max(1));
        let cache = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(ttl)
            .build();
        let missing = moka::sync::Cache::builder()
            .max_capacity(NEGATIVE_CACHE_CAPACITY)
            .time_to_live(ttl)
            .build();
        let invalid_key_blocked = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(60))
            .build();
        let thresholds_emitted = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(Duration::from_secs(24 * 3600))
            .build();
        Self(Arc::new(KeysInner {
            missing,
            invalid_key_blocked,
            thresholds_emitted,
            db: identity.db.clone(),
            config: identity.config.clone(),
            identity,
            cache,
            limiter,
            quota,
            usage,
        }))
    }
}

impl std::ops::Deref for KeysState {
    type Target = KeysInner;

    fn deref(&self) -> &KeysInner {
        &self.0
    }
}

impl KeysState {
    /// Takes one of `per_minute` allowed for `key` (e.g. `checkout:{org}`);
    /// a refusal is 429 RATE_LIMITED with `Retry-After`, saying `what`.
    pub async fn limit(
        &self,
        key: &str,
        per_minute: u32,
        what: &str,
    ) -> Result<(), landlord_core::ApiError> {
        let decision = self.limiter.check(key, per_minute).await;
        if decision.allowed {
            return Ok(());
        }
        Err(landlord_core::ApiError::RateLimited {
            message: format!("at most {per_minute} {what} a minute"),
            retry_after_secs: admission::ceil_secs(decision.retry_after),
        })
    }
}

impl axum::extract::FromRef<KeysState> for IdentityState {
    fn from_ref(state: &KeysState) -> Self {
        state.identity.clone()
    }
}
