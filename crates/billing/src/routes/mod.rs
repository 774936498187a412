//! `/billing`: history and the current period so far (`history`), plan
//! changes (`plan_changes`).

mod history;
mod plan_changes;

use crate::BillingState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::views::{Calculation, PlanChangeView, ScheduledChangeView, PLAN_CHANGES_PER_MINUTE};
pub use history::CycleView;
pub use plan_changes::UpgradeRequest;

pub fn router() -> OpenApiRouter<BillingState> {
    OpenApiRouter::new()
        .routes(routes!(history::history))
        .routes(routes!(history::calculate))
        .routes(routes!(plan_changes::upgrade))
        .routes(routes!(plan_changes::cancel_scheduled_change))
}
