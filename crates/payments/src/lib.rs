//! Payments: a checkout with Stripe or Paystack for a billing cycle, and
//! the providers' webhooks — signature checked on the raw body first,
//! deduplicated by event id, processed by a job (retried with backoff,
//! dead-lettered after the last attempt), amount and currency checked
//! against the cycle before it is marked paid.

pub mod checkout;
pub mod pages;
pub mod process;
pub mod providers;
pub mod reconcile;
pub mod routes;
pub mod signature;
pub mod store;

pub use process::{process_job, replay_event, EventRoute, ProcessEvent, PROCESS_EVENT_JOB};
pub use providers::Providers;
pub use reconcile::{reconcile, ReconcileJob, Reconciliation, RECONCILE_JOB};
