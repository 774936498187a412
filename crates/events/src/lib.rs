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
//! # Adding event types (a module's, in its own crate)
//!
//! 1. Declare the payload next to the code that records it (the core's are
//!    in `payloads.rs`, a module's in its own crate): a struct deriving
//!    `Serialize` and `utoipa::ToSchema`, with typed ids and an
//!    `organization_id`.
//! 2. Declare its type with [`event_type!`], which defines the constant
//!    and implements [`Event`] for the payload:
//!
//!    ```ignore
//!    landlord_events::event_type!(
//!        /// `parcel.shipped`.
//!        pub const PARCEL_SHIPPED: ParcelShippedPayload =
//!            ("parcel.shipped", 1, "A parcel left the warehouse.")
//!    );
//!    /// The crate's types, in the catalog's order.
//!    pub const EVENT_TYPES: &[EventType] = &[PARCEL_SHIPPED];
//!    ```
//!
//! 3. Call [`record`] inside the transaction of the action.
//! 4. Add the crate's list to the catalog that the binary assembles (next
//!    to its module switches) and [`catalog::install`]s at start-up: after
//!    the core's [`payloads::CORE`] and the lists already there, the order
//!    being the catalog's order. A module's types stay in the catalog when
//!    the module is switched off.
//!
//! The catalog (`GET /webhooks/event-types`), the type filters, the OpenAPI
//! section and the docs' table all read [`EventType::all`]; a unit test
//! checks that every core type has a description and a payload schema.
//! Changing a payload in a way a receiver would notice (a field removed or
//! retyped) bumps its version.

pub mod catalog;
pub mod payloads;
pub mod store;

pub use catalog::{Event, EventType};
pub use store::{record, record_many};

/// Declares an event type: the constant `NAME`, of payload `Payload`, with
/// its name, version and description, and `Payload`'s [`Event`] impl.
///
/// ```ignore
/// landlord_events::event_type!(
///     /// `invoice.paid`.
///     pub const INVOICE_PAID: InvoicePaidPayload = ("invoice.paid", 1, "An invoice was paid.")
/// );
/// ```
#[macro_export]
macro_rules! event_type {
    ($(#[$doc:meta])* $vis:vis const $name:ident: $payload:ty = ($text:literal, $version:literal, $description:expr $(,)?) $(;)?) => {
        $(#[$doc])*
        $vis const $name: $crate::EventType =
            $crate::EventType::new::<$payload>($text, $version, $description);

        impl $crate::Event for $payload {
            const TYPE: $crate::EventType = $name;
        }
    };
}
