//! Outgoing webhooks: organizations subscribe endpoints
//! to the event catalog, and Landlord delivers each event signed per
//! Standard Webhooks, retried on a schedule, every attempt logged.
//!
//! - [`endpoint`][]: an endpoint's rules (secret, filter, limits), pure;
//! - [`address`][]: who may be called (no SSRF), at creation and delivery;
//! - [`manage`][]: the endpoint operations the API and the console share;
//! - [`dispatch`][]: new events → one delivery per matching endpoint;
//! - [`deliver`][]: one attempt (the `webhooks.deliver` job), the retry
//!   schedule, disabling a failing endpoint;
//! - [`store`][]: the SQL of `webhook_endpoints`, `webhook_deliveries`,
//!   `webhook_attempts`;
//! - [`routes`][]: `/webhooks/endpoints…`;
//! - [`pages`][]: the console's webhook pages, registered with its shell.

pub mod address;
pub mod config;
pub mod deliver;
pub mod dispatch;
pub mod endpoint;
pub mod manage;
pub mod pages;
pub mod routes;
pub mod store;

pub use deliver::{DeliverJob, DELIVER_JOB};

use landlord_identity::IdentityState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The routes (state: identity's, for the permission checks, the
/// database, the job worker's waker and the payload cipher).
pub fn router() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::new()
        .routes(routes!(routes::create, routes::list))
        .routes(routes!(routes::get, routes::update, routes::delete))
        .routes(routes!(routes::secret))
        .routes(routes!(routes::rotate_secret))
        .routes(routes!(routes::attempts))
        .routes(routes!(routes::resend))
        .routes(routes!(routes::recover))
        .routes(routes!(routes::send_test))
}
