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

pub use close::{close_period, ensure_finished, mark_overdue, CloseReport};
pub use period::Period;
pub use store::CycleStatus;
