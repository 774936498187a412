//! Events: a typed, versioned catalog of what can happen to
//! an organization, and the `events` table that is both the organization's
//! event history (`GET /events`) and what outgoing webhooks deliver.
//!
//! An event is written with [`record`] **in the same transaction as the
//! change that causes it**: if the change rolls back, so does its event.
//!
//! ```ignore
//! let mut tx = db.pool().begin().await?;
//! store::revoke(&mut *tx, &key_id).await?;
//! landlord_events::record(&mut *tx, &organization_id, &ApiKeyRevoked { … }).await?;
//! tx.commit().await?;
//! ```
//!
//! This crate depends on `landlord-core` only, so that every feature crate
//! may depend on it.
//!
//! # Adding an event type (a module such as inbox or marketplace)
//!
//! 1. Add a variant to [`EventType`] in `catalog.rs` (`InboxMessageReceived
//!    = "inbox.message_received"`) and its arm in [`EventType::version`],
//!    [`EventType::description`] and [`EventType::payload_schema`].
//! 2. Declare the payload in the module's own crate (or in
//!    `payloads.rs` when it needs no type of the module): a struct deriving
//!    `Serialize` and `utoipa::ToSchema`, with typed ids, that implements
//!    [`Event`] with `const TYPE: EventType = EventType::InboxMessageReceived;`.
//! 3. Call [`record`] inside the transaction of the action.
//!
//! The catalog (`GET /webhooks/event-types`), the OpenAPI section and the
//! docs' table all read [`EventType::ALL`]; a unit test checks that every
//! type has a description and a payload schema. Changing a payload in a way
//! a receiver would notice (a field removed or retyped) bumps its version.

pub mod catalog;
pub mod payloads;
pub mod store;

pub use catalog::{Event, EventType};
pub use store::{record, record_many};
