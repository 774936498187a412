//! Identity: accounts, passwords, sessions, email verification and password
//! reset. Registering creates an organization and its owner; signing in
//! gives a short-lived access token (JWT) and a rotating refresh token.

pub mod accounts;
pub mod auth;
pub mod delegated;
pub mod jwt;
pub mod mail_limits;
pub mod model;
pub mod password;
pub mod permissions;
pub mod platform;
pub mod routes;
pub mod sensitive;
pub mod sessions;
pub mod store;
pub mod throttle;
pub mod validation;

use std::sync::Arc;
use std::time::Duration;

use landlord_core::ids::UserId;
use landlord_core::{ApiError, Config, Db};
use landlord_limits::RateLimiter;
use tokio::sync::Notify;

pub use auth::CurrentUser;
pub use model::Role;

/// Endings a slow listener may fall behind by before it is told it lagged
/// (and then checks everything).
const ACCESS_ENDINGS_BUFFER: usize = 1024;

/// What identity's handlers and extractors need: one `Arc`, so cloning it
/// per request or per extractor costs one reference count.
#[derive(Clone)]
pub struct IdentityState(Arc<IdentityInner>);

/// The services behind [`IdentityState`], reached through `Deref`.
pub struct IdentityInner {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: Arc<jwt::TokenKeys>,
    pub login_failures: Arc<throttle::FailureThrottle>,
    /// The server-wide bound on argon2 work (see [`password`]).
    pub hashing: Arc<password::HashingGate>,
    /// The server's rate limiter (shared through Redis when configured).
    pub limiter: Arc<RateLimiter>,
    /// Wakes this instance's job worker after mail is queued.
    pub jobs: Arc<Notify>,
    /// Seals the tokens inside queued mail (`payload_encryption_key`).
    pub payload_cipher: landlord_core::sealed::PayloadCipher,
    /// Says, after the commit, whose access just ended (a session signed
    /// out or revoked, a membership removed), so what holds access open —
    /// a module's live streams — checks it again at once instead of at its
    /// next periodic look. See [`IdentityState::access_ended`].
    pub access_endings: tokio::sync::broadcast::Sender<UserId>,
    /// Recognizes and resolves a module's delegated tokens (an installed
    /// app's); set once at start-up, see [`delegated`].
    pub delegated: delegated::DelegatedSlot,
}

impl std::ops::Deref for IdentityState {
    type Target = IdentityInner;

    fn deref(&self) -> &IdentityInner {
        &self.0
    }
}

impl IdentityState {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        signing_key: &str,
        jobs: Arc<Notify>,
        limiter: Arc<RateLimiter>,
        payload_cipher: landlord_core::sealed::PayloadCipher,
    ) -> Self {
        let tokens = jwt::TokenKeys::new(signing_key, config.access_token_ttl_secs);
        let window = Duration::from_secs(config.login_failure_window_secs);
        let hashing = password::HashingGate::new(
            config.password_hashing_slots(),
            config.password_hashing_waiting(),
        );
        Self(Arc::new(IdentityInner {
            db,
            config,
            tokens: Arc::new(tokens),
            // Shared through Redis with the other limits, when configured.
            login_failures: Arc::new(throttle::FailureThrottle::new(
                window,
                limiter.shared_store(),
            )),
            hashing: Arc::new(hashing),
            limiter,
            jobs,
            payload_cipher,
            access_endings: tokio::sync::broadcast::channel(ACCESS_ENDINGS_BUFFER).0,
            delegated: delegated::DelegatedSlot::new(),
        }))
    }

    /// Tells whoever listens that `user_id` lost a session or a membership
    /// (called after the commit). Nobody listening is fine: the listeners
    /// also look on their own every few seconds.
    pub fn access_ended(&self, user_id: &UserId) {
        let _ = self.access_endings.send(user_id.clone());
    }

    /// A link of the web app carrying a mailed token.
    pub(crate) fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.config.app_url())
    }

    /// Takes one of the account's `password_rate_limit_per_account_per_minute`
    /// password-hashing requests (`account` is its email); 429 with
    /// `Retry-After` beyond. Called before any hashing.
    pub async fn limit_password_work(&self, account: &str) -> Result<(), ApiError> {
        let per_minute = self.config.password_rate_limit_per_account_per_minute;
        let decision = self
            .limiter
            .check(&format!("password:{account}"), per_minute)
            .await;
        if decision.allowed {
            return Ok(());
        }
        Err(ApiError::RateLimited {
            message: format!(
                "too many password requests for this account; at most {per_minute} a minute"
            ),
            retry_after_secs: decision.retry_after.as_micros().div_ceil(1_000_000).max(1) as u64,
        })
    }
}
