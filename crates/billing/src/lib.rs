//! Billing: turns metered usage into monthly invoices ("billing cycles").
//!
//! The rule, in integer minor units, is [`pricing::price_period`]: each
//! stretch of the month is billed by the plan in force during it. An
//! upgrade (to a plan with a higher price) takes effect at once and is
//! charged `(new price − old price) × remaining time ÷ month length`; a
//! downgrade is scheduled for the end of the period and applied when the
//! month closes. A month's total is never below zero. Starter all month
//! with 15,000 requests: 1,000 + 0 + 5,000 × 1 = 6,000 cents.

pub mod close;
pub mod manage;
pub mod money;
pub mod pages;
pub mod period;
pub mod pricing;
pub mod routes;
pub mod schedule;
pub mod store;
pub mod views;

pub use close::{close_period, ensure_finished, mark_overdue, CloseReport};
pub use period::Period;
pub use store::CycleStatus;

use std::sync::Arc;

use axum::extract::FromRef;
use landlord_core::{Config, Db};
use landlord_identity::IdentityState;
use landlord_keys::KeysState;

/// What billing's routes, pages and rules need: one `Arc`, cloned per
/// request.
#[derive(Clone)]
pub struct BillingState(Arc<BillingInner>);

/// The services behind [`BillingState`], reached through `Deref`.
pub struct BillingInner {
    pub db: Db,
    pub config: Arc<Config>,
    /// Sessions, and the job queue's waker.
    pub identity: IdentityState,
    /// The keys feature's services: the plan changes' rate limit, the
    /// cached keys (which carry the plan) and the usage figures.
    pub keys: KeysState,
}

impl BillingState {
    pub fn new(db: Db, config: Arc<Config>, identity: IdentityState, keys: KeysState) -> Self {
        Self(Arc::new(BillingInner {
            db,
            config,
            identity,
            keys,
        }))
    }
}

impl std::ops::Deref for BillingState {
    type Target = BillingInner;

    fn deref(&self) -> &BillingInner {
        &self.0
    }
}

impl FromRef<BillingState> for IdentityState {
    fn from_ref(state: &BillingState) -> Self {
        state.identity.clone()
    }
}
