//! Cross-cutting pieces of Landlord: configuration, the database, the error
//! type and its envelope, the HTTP baseline, telemetry.

pub mod calls;
pub mod config;
pub mod crypto;
pub mod data_dir;
pub mod db;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod lease;
pub mod plans;
pub mod replicas;
pub mod sealed;
pub mod secret;
pub mod secrets;
pub mod sqlite_reader;
pub mod telemetry;
pub mod text_enum;
pub mod time;
pub mod timestamp;
pub mod webhook_signature;

pub use config::{Config, ConfigError, Section};
pub use db::Db;
pub use error::ApiError;
pub use secret::Secret;
pub use timestamp::Timestamp;
