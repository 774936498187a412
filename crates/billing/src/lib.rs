//! Billing: turns metered usage into monthly invoices ("billing cycles").
//!
//! The rule, in integer minor units:
//!
//! ```text
//! total = price of the plan at the start of the period
//!       + the prorated differences of the plan changes made during it
//!       + overage: requests over the included ones of the plan at its end
//!         × that plan's overage price
//! ```
//!
//! A plan change in the middle of a month is charged (or credited, for a
//! downgrade) `(new price − old price) × remaining time ÷ month length`,
//! recorded with the change and added to that month's invoice. A month's
//! total is never below zero. Starter all month with 15,000 requests:
//! 1,000 + 0 + 5,000 × 1 = 6,000 cents.

pub mod close;
pub mod money;
pub mod period;
pub mod routes;
pub mod schedule;

pub use close::{close_period, mark_overdue, CloseReport};
pub use period::Period;
