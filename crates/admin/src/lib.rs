//! `/admin`: for platform administrators only — business figures and MRR
//! by month (`figures`), organizations and setting their plan
//! (`organizations`), failed and dead-lettered webhook events and their
//! replay (`webhooks`), reconciliation discrepancies (`discrepancies`),
//! dead-lettered jobs and mails and their retry (`jobs`), closing a
//! billing period (`periods`), suppressed mail addresses and lifting one
//! (`mail_suppressions`) — and the mail provider's bounce webhook
//! (`mail_bounces`, called with a shared secret, not by an operator).
//! Each action is a feature function the API
//! route and the console's `/operator` page both call. The admin owns no
//! table: it reads and changes billing's, payments', identity's,
//! metering's, jobs' and mail's through their stores.

pub mod discrepancies;
pub mod figures;
pub mod jobs;
pub mod mail_bounces;
pub mod mail_suppressions;
pub mod organizations;
pub mod pages;
mod periods;
mod platform_admin;
pub mod webhooks;

use landlord_payments::routes::PaymentsState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use discrepancies::{DiscrepancyFilter, DiscrepancyView};
pub use figures::Figures;
pub use periods::ClosePeriodRequest;
pub use platform_admin::PlatformAdmin;
pub use webhooks::{EventFilter, WebhookEventView};

/// Most items an operator's list shows.
const LIST_LIMIT: i64 = 200;

pub fn router() -> OpenApiRouter<PaymentsState> {
    OpenApiRouter::new()
        .routes(routes!(figures::figures))
        .routes(routes!(webhooks::webhook_events))
        .routes(routes!(webhooks::replay))
        .routes(routes!(discrepancies::discrepancies))
        .routes(routes!(discrepancies::resolve))
        .routes(routes!(periods::close_period))
        .routes(routes!(organizations::organizations))
        .routes(routes!(organizations::plan))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::retry))
        .routes(routes!(mail_suppressions::list))
        .routes(routes!(mail_suppressions::lift))
        .routes(routes!(mail_bounces::bounces))
}
