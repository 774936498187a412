//! The state every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use landlord_core::{Config, Db};
use landlord_identity::IdentityState;
use landlord_keys::KeysState;
use landlord_messages::routes::MessagesState;
use landlord_payments::routes::PaymentsState;

/// One instance's shared services: one `Arc`, so the per-request clone
/// axum makes of a router's state costs one reference count.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

/// The services behind [`AppState`], reached through `Deref`.
pub struct AppInner {
    pub config: Arc<Config>,
    pub db: Db,
    /// Present when `redis_url` is configured.
    pub redis: Option<redis::Client>,
    /// Signs access tokens (configured, or generated in the data directory).
    pub token_signing_key: Arc<String>,
    pub identity: IdentityState,
    pub keys: KeysState,
    pub billing: landlord_billing::BillingState,
    pub messages: MessagesState,
    pub payments: PaymentsState,
    /// The inbox's realtime wake-ups (and Redis pub/sub when configured).
    pub inbox_live: landlord_inbox::live::Live,
    pub inbox: landlord_inbox::InboxState,
    pub marketplace: landlord_marketplace::MarketplaceState,
    pub apps: landlord_apps::AppsState,
    /// Apps' hosts: routing, limits and forwarding to their upstreams.
    pub gateway: landlord_apps::gateway::Gateway,
    /// Snapshots of the SQLite database: on demand and on a schedule.
    pub backups: landlord_backup::Backups,
}

impl AppState {
    pub fn new(inner: AppInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppInner;

    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl FromRef<AppState> for IdentityState {
    fn from_ref(state: &AppState) -> Self {
        state.identity.clone()
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// House rule 5: every state axum clones per request is one pointer.
    #[test]
    fn every_state_is_one_arc() {
        let pointer = std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<AppState>(), pointer);
        assert_eq!(std::mem::size_of::<IdentityState>(), pointer);
        assert_eq!(std::mem::size_of::<KeysState>(), pointer);
        assert_eq!(std::mem::size_of::<MessagesState>(), pointer);
        assert_eq!(std::mem::size_of::<PaymentsState>(), pointer);
        assert_eq!(
            std::mem::size_of::<landlord_billing::BillingState>(),
            pointer
        );
        assert_eq!(std::mem::size_of::<landlord_inbox::InboxState>(), pointer);
        assert_eq!(
            std::mem::size_of::<landlord_marketplace::MarketplaceState>(),
            pointer
        );
        assert_eq!(std::mem::size_of::<landlord_apps::AppsState>(), pointer);
        assert_eq!(std::mem::size_of::<landlord_backup::Backups>(), pointer);
    }
}
