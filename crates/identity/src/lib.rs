//! Identity: accounts, passwords, sessions, email verification and password
//! reset. Registering creates an organization and its owner; signing in
//! gives a short-lived access token (JWT) and a rotating refresh token.

pub mod auth;
pub mod jwt;
pub mod mail_limits;
pub mod model;
pub mod password;
pub mod permissions;
pub mod routes;
pub mod store;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use landlord_core::{Config, Db};
use tokio::sync::Notify;

pub use auth::CurrentUser;
pub use model::Role;

/// What identity's handlers and extractors need.
#[derive(Clone)]
pub struct IdentityState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: Arc<jwt::TokenKeys>,
    pub login_failures: Arc<throttle::FailureThrottle>,
    /// Wakes this instance's job worker after mail is queued.
    pub jobs: Arc<Notify>,
    /// Rate limits (mail per recipient and per organization): in memory
    /// until [`IdentityState::with_limiter`] shares the application's.
    pub limiter: Arc<landlord_limits::RateLimiter>,
    /// Seals the tokens inside queued mail: a random key until
    /// [`IdentityState::with_payload_cipher`] sets the configured one.
    pub payload_cipher: landlord_core::sealed::PayloadCipher,
}

impl IdentityState {
    pub fn new(db: Db, config: Arc<Config>, signing_key: &str, jobs: Arc<Notify>) -> Self {
        let tokens = jwt::TokenKeys::new(signing_key, config.access_token_ttl_secs);
        let window = Duration::from_secs(config.login_failure_window_secs);
        Self {
            db,
            config,
            tokens: Arc::new(tokens),
            login_failures: Arc::new(throttle::FailureThrottle::new(window)),
            jobs,
            limiter: Arc::new(landlord_limits::RateLimiter::new(None)),
            payload_cipher: landlord_core::sealed::PayloadCipher::new(
                &landlord_core::crypto::random_hex(32),
            ),
        }
    }

    /// Uses `cipher` (from `payload_encryption_key`) to seal queued mail.
    pub fn with_payload_cipher(mut self, cipher: landlord_core::sealed::PayloadCipher) -> Self {
        self.payload_cipher = cipher;
        self
    }

    /// Uses `limiter` (the application's, shared through Redis when
    /// configured) for this state's rate limits.
    pub fn with_limiter(mut self, limiter: Arc<landlord_limits::RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }
}
