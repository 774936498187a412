//! One id type per entity, so that a swapped argument does not compile.
//!
//! Ids are UUIDs (v7: time-ordered), stored as `TEXT` and shown as the
//! hyphenated string. An id from the client is checked with
//! [`parse`](OrganizationId::parse) before it reaches a query; an id read
//! from the database is trusted as stored.
//!
//! These are the core's ids; a module declares its own in its crate with
//! [`entity_id!`](crate::entity_id).

/// Declares an id type: a newtype over the UUID's text, transparent for
/// sqlx (binds and decodes as `TEXT`) and serde (a string), and a `uuid`
/// string in the OpenAPI document. The declaring crate depends on `serde`,
/// `sqlx`, `uuid` and `utoipa`.
#[macro_export]
macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The id in `text`, when it is a hyphenated UUID; `None`
            /// otherwise (which a handler answers as "not found").
            pub fn parse(text: &str) -> Option<Self> {
                (text.len() == 36 && uuid::Uuid::try_parse(text).is_ok())
                    .then(|| Self(text.to_ascii_lowercase()))
            }

            /// The id in `text` from a URL, or 404 naming `what`: a
            /// malformed id is as missing as an unknown one.
            pub fn parse_or_not_found(text: &str, what: &str) -> Result<Self, $crate::ApiError> {
                Self::parse(text.trim()).ok_or_else(|| $crate::ApiError::not_found(what))
            }

            /// An id as stored (from the database, a signed token or a
            /// job payload written by this server).
            pub fn from_trusted(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        // Read on the calling thread (see `landlord_core::sqlite_reader`).
        impl $crate::sqlite_reader::rusqlite::types::FromSql for $name {
            fn column_result(
                value: $crate::sqlite_reader::rusqlite::types::ValueRef<'_>,
            ) -> $crate::sqlite_reader::rusqlite::types::FromSqlResult<Self> {
                value.as_str().map(|text| Self(text.to_owned()))
            }
        }

        impl $name {

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

entity_id!(
    /// A person's account.
    UserId
);
entity_id!(
    /// A tenant.
    OrganizationId
);
entity_id!(
    /// A sign-in: the family of rotating refresh tokens.
    SessionId
);
entity_id!(
    /// A one-time notice of the console, bound to a session.
    FlashId
);
entity_id!(
    /// An invitation to join an organization.
    InvitationId
);
entity_id!(
    /// An API key.
    ApiKeyId
);
entity_id!(
    /// A monthly billing cycle.
    BillingCycleId
);
entity_id!(
    /// A payment through a provider.
    PaymentId
);
entity_id!(
    /// An event received from a payment provider's webhook.
    WebhookEventId
);
entity_id!(
    /// A difference found by reconciliation.
    DiscrepancyId
);
entity_id!(
    /// A message sent through the messaging API.
    MessageId
);
entity_id!(
    /// A background job of the outbox.
    JobId
);
entity_id!(
    /// An entry of the audit log.
    AuditEntryId
);
entity_id!(
    /// A recorded plan change.
    PlanChangeId
);
entity_id!(
    /// A person's membership of an organization (the cursor of the members list).
    MembershipId
);
entity_id!(
    /// One refresh token of a session (its family).
    RefreshTokenId
);
entity_id!(
    /// A one-time token sent by mail (email verification, password reset).
    OneTimeTokenId
);
entity_id!(
    /// An operator alert's firing or resolution (`alert_history`).
    AlertEventId
);
entity_id!(
    /// An event of an organization's history (the catalog's `landlord_events`).
    EventId
);
entity_id!(
    /// An organization's outgoing webhook endpoint.
    WebhookEndpointId
);
entity_id!(
    /// One event to deliver to one endpoint (`webhook_deliveries`).
    WebhookDeliveryId
);
entity_id!(
    /// One attempt of a delivery (`webhook_attempts`).
    WebhookAttemptId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_hyphenated_uuids() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(id.as_str()), Some(id.clone()));
        assert!(UserId::parse("nope").is_none());
        assert!(UserId::parse(&id.as_str().replace('-', "")).is_none());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
    }
}
