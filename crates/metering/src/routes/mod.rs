//! Usage as people see it: `/billing/usage` and the usage graph. These read
//! recorded usage, which trails live traffic by at most one flush interval.
//! (The dashboard figures that join keys live in the keys feature, which
//! depends on this one.)

mod dashboard;
mod usage;

use landlord_identity::IdentityState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::daily::DailyUsage;
pub use crate::period::PeriodUsage;
pub use dashboard::GraphQuery;

pub fn router() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::new()
        .routes(routes!(usage::billing_usage))
        .routes(routes!(dashboard::usage_graph))
}
