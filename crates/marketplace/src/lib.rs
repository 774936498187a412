//! Module: Marketplace — vendors are
//! organizations, buyers are user accounts, platform administrators run it.
//!
//! - [`vendors`][]: applying to sell, approval and suspension;
//! - [`catalog`][]: products, the public listing with full-text and radius
//!   search ([`geo`][] has the distance method);
//! - [`cart`][] and [`checkout`][]: one order, its items, one vendor order
//!   per vendor, the stock reservations — in one transaction, never beyond
//!   stock whatever the concurrency;
//! - [`payment`][]: the provider's verified webhook confirms (or fails) an
//!   order; unpaid orders expire and give their stock back;
//! - [`fulfilment`][]: processing → shipped → delivered, or cancelled with
//!   a refund; [`refunds`][]: each refund recorded first and made once;
//! - [`payouts`][]: the vendor ledger and one transfer per payout, never
//!   twice; [`money`][] has the fee rule;
//! - [`reviews`][]: after delivery, once per order item;
//! - [`mail`][]: the mails it sends, registered on the mailer by the binary;
//! - [`provider`][]: the Stripe and Paystack calls; [`store`][]: the SQL;
//!   [`ids`][]: the typed ids;
//! - [`events`][]: the events it records, their payloads and types (the
//!   binary adds [`events::EVENT_TYPES`] to the catalog);
//! - [`permissions`][]: who may do what, and the `needs` marker types;
//! - [`pages`][]: the console's buyer, store and operator pages, registered
//!   with the console's shell.

pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod events;
pub mod fulfilment;
pub mod geo;
pub mod ids;
pub mod mail;
pub mod money;
pub mod pages;
pub mod payment;
pub mod payouts;
pub mod permissions;
pub mod provider;
pub mod refunds;
pub mod reviews;
pub mod routes;
pub mod store;
pub mod sweep;
pub mod vendors;
pub mod views;

use std::sync::Arc;

use axum::extract::FromRef;
use landlord_identity::IdentityState;

pub use payment::{PaymentJob, ORDER_METADATA_KEY, PAYMENT_JOB, PAYMENT_ROUTE};
pub use payouts::{TransferJob, TRANSFER_JOB};
pub use refunds::{RefundJob, REFUND_JOB};
pub use routes::router;

/// The module's tables (`migrations/`), embedded in the binary. The binary
/// applies them with everyone else's (`Db::migrate`), whether or not the
/// module is switched on.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What the marketplace's routes and jobs need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct MarketplaceState(Arc<MarketplaceInner>);

pub struct MarketplaceInner {
    pub db: landlord_core::Db,
    pub config: Arc<landlord_core::Config>,
    /// Sessions, and the job queue's waker.
    pub identity: IdentityState,
    pub client: provider::PaymentClient,
}

impl MarketplaceState {
    pub fn new(
        db: landlord_core::Db,
        config: Arc<landlord_core::Config>,
        identity: IdentityState,
    ) -> Self {
        let client = provider::PaymentClient::from_config(&config);
        Self(Arc::new(MarketplaceInner {
            db,
            config,
            identity,
            client,
        }))
    }
}

impl std::ops::Deref for MarketplaceState {
    type Target = MarketplaceInner;

    fn deref(&self) -> &MarketplaceInner {
        &self.0
    }
}

/// What the marketplace's jobs need (built before the rest of the state,
/// since the worker comes first).
#[derive(Clone)]
pub struct JobContext {
    pub db: landlord_core::Db,
    pub client: provider::PaymentClient,
    /// The console's base URL, for links in mail.
    pub app_url: String,
}

impl JobContext {
    pub fn new(db: landlord_core::Db, config: &landlord_core::Config) -> Self {
        JobContext {
            db,
            client: provider::PaymentClient::from_config(config),
            app_url: config.app_url().to_string(),
        }
    }
}

impl FromRef<MarketplaceState> for IdentityState {
    fn from_ref(state: &MarketplaceState) -> Self {
        state.identity.clone()
    }
}
