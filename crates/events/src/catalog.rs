//! The event catalog: each type, its version, its description and its
//! payload's JSON schema.
//!
//! A type is a value ([`EventType`]) declared as a constant next to its
//! payload, by the crate that records it; the catalog is the ordered list
//! of every type, assembled by the binary and installed once at start-up
//! ([`install`]).

use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Schemas a payload refers to (typed ids, timestamps), by name.
pub type Schemas = Vec<(String, RefOr<Schema>)>;

/// A type of event (the `type` of an event and of a webhook message).
/// Two types are the same when their names are.
#[derive(Clone, Copy)]
pub struct EventType {
    name: &'static str,
    version: i64,
    description: &'static str,
    payload_schema: fn() -> RefOr<Schema>,
    referenced_schemas: fn(&mut Schemas),
}

/// A payload that knows its type: what [`crate::record`] writes.
pub trait Event: Serialize {
    const TYPE: EventType;
}

impl EventType {
    /// The type `name` (`invoice.paid`) whose payload is `P`, at
    /// `version`, described for the catalog by `description`.
    pub const fn new<P: ToSchema>(
        name: &'static str,
        version: i64,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            version,
            description,
            payload_schema: <P as PartialSchema>::schema,
            referenced_schemas: <P as ToSchema>::schemas,
        }
    }

    /// The name, as stored and sent (`invoice.paid`).
    pub fn as_str(self) -> &'static str {
        self.name
    }

    /// The catalog's type named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        all().iter().copied().find(|t| t.name == text)
    }

    /// Every type of the catalog, in its order.
    pub fn all() -> &'static [EventType] {
        all()
    }

    /// The payload's version (bumped when a receiver would notice a change).
    pub fn version(self) -> i64 {
        self.version
    }

    /// What happened, for the catalog.
    pub fn description(self) -> &'static str {
        self.description
    }

    /// The name of the payload's schema among the OpenAPI document's
    /// components: `EventPayload_invoice_paid`.
    pub fn schema_name(self) -> String {
        format!("EventPayload_{}", self.name.replace('.', "_"))
    }

    /// The payload's JSON schema (inline).
    pub fn payload_schema(self) -> RefOr<Schema> {
        (self.payload_schema)()
    }

    /// The schemas the catalog's payloads refer to (typed ids,
    /// timestamps), for the document's components.
    pub fn referenced_schemas() -> Schemas {
        let mut schemas = Vec::new();
        for t in all() {
            (t.referenced_schemas)(&mut schemas);
        }
        schemas
    }

    /// The catalog as a Markdown table (the OpenAPI tag's description).
    pub fn markdown_table() -> String {
        let mut table = String::from("| type | version | description |\n| --- | --- | --- |\n");
        for t in all() {
            table.push_str(&format!(
                "| `{}` | {} | {} |\n",
                t.as_str(),
                t.version(),
                t.description()
            ));
        }
        table
    }
}

// ---- the catalog ---------------------------------------------------------------------

/// The installed catalog. Process-wide rather than passed through the
/// application's state: the OpenAPI schemas that list the types
/// (`utoipa::PartialSchema` impls, such as the webhooks' subscribable
/// types) are static functions with no state to read, and neither has
/// decoding a stored type from a row.
static CATALOG: OnceLock<Vec<EventType>> = OnceLock::new();

/// Installs the catalog: every type, in the order it is shown. The first
/// call wins; later ones (another server in the same process) are ignored,
/// the catalog being the same whatever the configuration.
pub fn install(types: Vec<EventType>) {
    let _ = CATALOG.set(types);
}

/// The installed catalog; before [`install`] (unit tests, tools), the core
/// types ([`crate::payloads::CORE`]).
pub fn all() -> &'static [EventType] {
    CATALOG.get().map_or(crate::payloads::CORE, Vec::as_slice)
}

// ---- traits: a name to the outside world ---------------------------------------------

impl PartialEq for EventType {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for EventType {}

impl std::hash::Hash for EventType {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventType({})", self.name)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventType::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text} is not an event type of the catalog"))
        })
    }
}

/// A string, one of the catalog's names.
impl PartialSchema for EventType {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = all().iter().map(|t| t.name).collect();
        ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for EventType {}

impl sqlx::Type<sqlx::Any> for EventType {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <String as sqlx::Type<sqlx::Any>>::type_info()
    }
    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Any>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for EventType {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<'q, sqlx::Any>>::encode(self.name.to_string(), buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Any> for EventType {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
        EventType::parse(&text).ok_or_else(|| format!("{text} is not a EventType").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payloads::{INVOICE_PAID, WEBHOOK_TEST};

    #[test]
    fn every_type_has_a_description_and_an_object_schema() {
        for t in EventType::all() {
            assert!(!t.description().is_empty(), "{t}");
            assert_eq!(t.version(), 1);
            let schema = serde_json::to_value(t.payload_schema()).unwrap();
            assert_eq!(schema["type"], "object", "{t}: {schema}");
            assert!(
                schema["properties"]["organization_id"].is_object(),
                "{t} names its organization"
            );
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(INVOICE_PAID.schema_name(), "EventPayload_invoice_paid");
    }

    #[test]
    fn types_are_equal_by_name_and_written_as_it() {
        assert_eq!(EventType::parse("invoice.paid"), Some(INVOICE_PAID));
        assert_ne!(INVOICE_PAID, WEBHOOK_TEST);
        assert_eq!(EventType::parse("nope"), None);
        assert_eq!(
            serde_json::to_string(&INVOICE_PAID).unwrap(),
            "\"invoice.paid\""
        );
        let schema = serde_json::to_value(<EventType as PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"][0], "organization.updated");
    }
}
