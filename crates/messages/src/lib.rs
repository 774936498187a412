//! The messaging API (seed 002's product): programs send email and SMS
//! with an API key. A message is stored as `queued` and answered 202; the
//! job worker delivers it — email over the mail transport, SMS through an
//! [`SmsProvider`] — and records `sent` or `failed` with the reason.

pub mod delivery;
pub mod routes;
pub mod store;

pub use delivery::{DeliverMessage, FileSmsProvider, SmsProvider, DELIVER_JOB};
