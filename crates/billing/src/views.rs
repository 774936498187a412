//! What billing's rules answer: the period so far, a plan change, a
//! scheduled change. The API's routes and the console's pages show them;
//! the rules in [`crate::manage`] build them.

use landlord_core::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

/// Plan changes allowed per organization per minute (a sensitive route's budget).
pub const PLAN_CHANGES_PER_MINUTE: u32 = 3;

/// A plan change waiting for the end of the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledChangeView {
    /// The plan the organization moves to.
    pub plan: String,
    /// When (RFC 3339): the first instant of the next period.
    pub effective_at: Timestamp,
}

impl ScheduledChangeView {
    pub fn new(plan: String, effective_at: Timestamp) -> Self {
        Self { plan, effective_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Calculation {
    pub period: String,
    /// The plan in force now.
    pub plan: String,
    pub requests: i64,
    pub included: Option<i64>,
    pub overage_requests: i64,
    /// The price of the plan in force at the start of the period (prorated
    /// from the organization's creation).
    pub base_amount: i64,
    pub overage_amount: i64,
    /// Prorated upgrades during the period.
    pub adjustments: i64,
    /// What the period would cost if it ended now.
    pub amount: i64,
    pub currency: String,
    pub amount_display: String,
    /// A downgrade waiting for the end of the period; absent: none.
    pub scheduled_change: Option<ScheduledChangeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChangeView {
    pub from_plan: String,
    pub to_plan: String,
    /// Prorated charge added to this month's invoice (0 for a scheduled
    /// downgrade).
    pub amount: i64,
    pub currency: String,
    pub changed_at: Timestamp,
    /// `true`: a downgrade, taking effect at `effective_at` (the end of the
    /// period); `false`: an upgrade, in effect now.
    pub scheduled: bool,
    pub effective_at: Timestamp,
}
