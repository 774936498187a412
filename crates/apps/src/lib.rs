//! Module: Apps — organizations publish apps, other organizations install
//! them, and apps sign people in with Landlord accounts: Landlord is an
//! OAuth 2.1 / OpenID Connect provider.
//!
//! - [`registry`][]: creating and changing apps (slug rules, reserved
//!   names, a deleted slug's quarantine, redirect URIs, client secrets
//!   shown once), review by platform administrators;
//! - [`review`][]: platform administrators publish, reject or suspend
//!   apps;
//! - [`scopes`][]: what an app may ask for, in words people read;
//! - [`tokens`][]: opaque tokens stored hashed, and the one check of
//!   whether a token still works;
//! - [`store`][]: the SQL; [`ids`][]: the typed ids;
//! - [`permissions`][]: who may do what, and the `needs` marker types;
//! - [`routes`][]: the API under `/api/v1/apps…` and the provider's
//!   endpoints (`/oauth/…`, `/.well-known/…`);
//! - [`pages`][]: the console's pages.

pub mod app_tokens;
pub mod authorized;
pub mod config;
pub mod directory;
pub mod discovery;
pub mod events;
pub mod gateway;
pub mod ids;
pub mod installations;
pub mod mail;
pub mod notices;
pub mod oauth;
pub mod pages;
pub mod permissions;
pub mod registry;
pub mod review;
pub mod routes;
pub mod scopes;
pub mod signing;
pub mod slug;
pub mod store;
pub mod tokens;
pub mod traffic;
pub mod views;

use std::sync::Arc;

use landlord_identity::IdentityState;

pub use routes::{api_router, provider_router};

/// The module's tables (`migrations/`), embedded in the binary. The binary
/// applies them with everyone else's, whether or not the module is on.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What the module's routes need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct AppsState(Arc<AppsInner>);

pub struct AppsInner {
    pub db: landlord_core::Db,
    pub config: Arc<landlord_core::Config>,
    /// Sessions, the payload cipher, the job queue's waker.
    pub identity: IdentityState,
    /// The ID-token signing key, kept parsed (see [`signing`]).
    pub keyring: signing::Keyring,
    /// Which host is which app, kept in memory: the gateway reads it,
    /// every routing change empties it (see [`gateway::hosts`]).
    pub routing: gateway::hosts::RoutingCache,
}

impl AppsState {
    pub fn new(
        db: landlord_core::Db,
        config: Arc<landlord_core::Config>,
        identity: IdentityState,
    ) -> Self {
        Self(Arc::new(AppsInner {
            db,
            identity,
            keyring: signing::Keyring::new(),
            routing: {
                let settings = config.section::<config::AppsConfig>();
                gateway::hosts::RoutingCache::new(
                    settings.host_cache_entries,
                    settings.host_cache_negative_entries,
                )
            },
            config,
        }))
    }

    /// The module's settings.
    pub fn settings(&self) -> &config::AppsConfig {
        self.config.section::<config::AppsConfig>()
    }
}

impl std::ops::Deref for AppsState {
    type Target = AppsInner;

    fn deref(&self) -> &AppsInner {
        &self.0
    }
}

impl axum::extract::FromRef<AppsState> for IdentityState {
    fn from_ref(state: &AppsState) -> IdentityState {
        state.identity.clone()
    }
}
