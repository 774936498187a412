//! Cross-cutting pieces of Landlord: configuration, the database, the error
//! type and its envelope, the HTTP baseline, telemetry.

pub mod alerts_config;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod inbox_config;
pub mod lease;
pub mod marketplace_config;
pub mod plans;
pub mod sealed;
pub mod secret;
pub mod secrets;
pub mod sms_config;
pub mod telemetry;
pub mod text_enum;
pub mod time;
pub mod timestamp;
pub mod webhook_signature;
pub mod webhooks_config;

pub use config::Config;
pub use db::Db;
pub use error::ApiError;
pub use secret::Secret;
pub use timestamp::Timestamp;
