//! The messaging API: programs send email and SMS
//! with an API key. A message is stored as `queued` and answered 202; the
//! job worker hands it to its provider — email to the SMTP server, SMS to
//! Twilio — and records `sent` (the provider took it) or `failed` with the
//! reason; Twilio's signed status callbacks move an SMS on to `delivered`
//! or `failed`. A development outbox (files, on a server whose
//! `public_url` is loopback) records `simulated`, never `sent`.

pub mod callbacks;
pub mod delivery;
pub mod routes;
pub mod sms;
pub mod sms_config;
pub mod store;
pub mod twilio;

pub use delivery::{DeliverMessage, DELIVER_JOB};
pub use sms::{Availability, FileSmsProvider, SmsProvider};
