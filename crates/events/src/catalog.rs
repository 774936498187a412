//! The event catalog: each type, its version, its description and its
//! payload's JSON schema.

use serde::Serialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::payloads::*;

landlord_core::text_enum!(
    /// A type of event (the `type` of an event and of a webhook message).
    pub enum EventType {
        OrganizationUpdated = "organization.updated",
        MemberAdded = "member.added",
        MemberRemoved = "member.removed",
        MemberRoleChanged = "member.role_changed",
        InvitationCreated = "invitation.created",
        InvitationAccepted = "invitation.accepted",
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        UsageThresholdReached = "usage.threshold_reached",
        InvoiceCreated = "invoice.created",
        InvoiceOverdue = "invoice.overdue",
        InvoicePaid = "invoice.paid",
        PaymentSucceeded = "payment.succeeded",
        PaymentFailed = "payment.failed",
        MessageSent = "message.sent",
        MessageFailed = "message.failed",
        WebhookTest = "webhook.test",
        InboxMessageReceived = "inbox.message.received",
        InboxMessageStatusChanged = "inbox.message.status_changed",
        InboxConversationCreated = "inbox.conversation.created",
        InboxConversationAssigned = "inbox.conversation.assigned",
        InboxConversationResolved = "inbox.conversation.resolved",
        MarketplaceOrderCreated = "marketplace.order.created",
        MarketplaceOrderPaid = "marketplace.order.paid",
        MarketplaceOrderCancelled = "marketplace.order.cancelled",
        MarketplaceVendorOrderStatusChanged = "marketplace.vendor_order.status_changed",
        MarketplacePayoutPaid = "marketplace.payout.paid",
        MarketplacePayoutFailed = "marketplace.payout.failed",
        MarketplaceReviewCreated = "marketplace.review.created",
    }
);

/// A payload that knows its type: what [`crate::record`] writes.
pub trait Event: Serialize {
    const TYPE: EventType;
}

impl EventType {
    /// The payload's version (bumped when a receiver would notice a change).
    pub fn version(self) -> i64 {
        1
    }

    /// What happened, for the catalog.
    pub fn description(self) -> &'static str {
        use EventType::*;
        match self {
            OrganizationUpdated => "The organization's settings (its name) changed.",
            MemberAdded => "A person joined the organization (accepted an invitation).",
            MemberRemoved => "A member was removed, or left the organization.",
            MemberRoleChanged => "A member's role changed (including an ownership transfer).",
            InvitationCreated => "Someone was invited to join the organization.",
            InvitationAccepted => "An invitation was accepted.",
            ApiKeyCreated => "An API key was created.",
            ApiKeyRevoked => "An API key was revoked.",
            UsageThresholdReached => {
                "The organization used 80 % or 100 % of its monthly quota (once each per period)."
            }
            InvoiceCreated => "A month was closed: the organization's invoice for it exists.",
            InvoiceOverdue => "An invoice was not paid by its due date.",
            InvoicePaid => "An invoice was paid.",
            PaymentSucceeded => "A payment through a provider succeeded.",
            PaymentFailed => "A payment through a provider failed.",
            MessageSent => {
                "A message of the messaging API was taken by its provider (the SMTP server, \
                 Twilio); never for a simulated one (development outbox)."
            }
            MessageFailed => {
                "A message of the messaging API was refused, failed its last attempt, or was \
                 reported failed or undelivered by the SMS provider."
            }
            WebhookTest => {
                "A test message an owner or admin sent to one endpoint (console or \
                 `POST /webhooks/endpoints/{id}/test`); delivered to that endpoint only."
            }
            InboxMessageReceived => "Inbox: a WhatsApp message came in from a contact.",
            InboxMessageStatusChanged => {
                "Inbox: an outgoing message moved on (sent, delivered, read or failed)."
            }
            InboxConversationCreated => "Inbox: a conversation began (a contact's first message, or after the last was resolved).",
            InboxConversationAssigned => "Inbox: a conversation's assignee or team changed.",
            InboxConversationResolved => "Inbox: a conversation was resolved.",
            MarketplaceOrderCreated => "Marketplace: a buyer checked out an order with a part from this store (stock is reserved until it is paid).",
            MarketplaceOrderPaid => "Marketplace: the order with a part from this store was paid (confirmed by the provider's webhook).",
            MarketplaceOrderCancelled => "Marketplace: this store's part of an order was cancelled (by the buyer, by the store, for a failed payment, or expired unpaid).",
            MarketplaceVendorOrderStatusChanged => "Marketplace: this store's part of an order moved on (processing, shipped, delivered, cancelled).",
            MarketplacePayoutPaid => "Marketplace: a payout of this store's earnings was transferred.",
            MarketplacePayoutFailed => "Marketplace: a payout could not be transferred after its retries (an operator can retry it).",
            MarketplaceReviewCreated => "Marketplace: a buyer reviewed a product of this store.",
        }
    }

    /// The name of the payload's schema among the OpenAPI document's
    /// components: `EventPayload_invoice_paid`.
    pub fn schema_name(self) -> String {
        format!("EventPayload_{}", self.as_str().replace('.', "_"))
    }

    /// The payload's JSON schema (inline).
    pub fn payload_schema(self) -> RefOr<Schema> {
        use EventType::*;
        match self {
            OrganizationUpdated => <OrganizationUpdatedPayload as PartialSchema>::schema(),
            MemberAdded => <MemberAddedPayload as PartialSchema>::schema(),
            MemberRemoved => <MemberRemovedPayload as PartialSchema>::schema(),
            MemberRoleChanged => <MemberRoleChangedPayload as PartialSchema>::schema(),
            InvitationCreated => <InvitationCreatedPayload as PartialSchema>::schema(),
            InvitationAccepted => <InvitationAcceptedPayload as PartialSchema>::schema(),
            ApiKeyCreated => <ApiKeyCreatedPayload as PartialSchema>::schema(),
            ApiKeyRevoked => <ApiKeyRevokedPayload as PartialSchema>::schema(),
            UsageThresholdReached => <UsageThresholdReachedPayload as PartialSchema>::schema(),
            InvoiceCreated => <InvoiceCreatedPayload as PartialSchema>::schema(),
            InvoiceOverdue => <InvoiceOverduePayload as PartialSchema>::schema(),
            InvoicePaid => <InvoicePaidPayload as PartialSchema>::schema(),
            PaymentSucceeded => <PaymentSucceededPayload as PartialSchema>::schema(),
            PaymentFailed => <PaymentFailedPayload as PartialSchema>::schema(),
            MessageSent => <MessageSentPayload as PartialSchema>::schema(),
            MessageFailed => <MessageFailedPayload as PartialSchema>::schema(),
            WebhookTest => <WebhookTestPayload as PartialSchema>::schema(),
            InboxMessageReceived => <InboxMessageReceivedPayload as PartialSchema>::schema(),
            InboxMessageStatusChanged => {
                <InboxMessageStatusChangedPayload as PartialSchema>::schema()
            }
            InboxConversationCreated => {
                <InboxConversationCreatedPayload as PartialSchema>::schema()
            }
            InboxConversationAssigned => {
                <InboxConversationAssignedPayload as PartialSchema>::schema()
            }
            InboxConversationResolved => {
                <InboxConversationResolvedPayload as PartialSchema>::schema()
            }
            MarketplaceOrderCreated => <MarketplaceOrderCreatedPayload as PartialSchema>::schema(),
            MarketplaceOrderPaid => <MarketplaceOrderPaidPayload as PartialSchema>::schema(),
            MarketplaceOrderCancelled => {
                <MarketplaceOrderCancelledPayload as PartialSchema>::schema()
            }
            MarketplaceVendorOrderStatusChanged => {
                <MarketplaceVendorOrderStatusChangedPayload as PartialSchema>::schema()
            }
            MarketplacePayoutPaid => <MarketplacePayoutPaidPayload as PartialSchema>::schema(),
            MarketplacePayoutFailed => <MarketplacePayoutFailedPayload as PartialSchema>::schema(),
            MarketplaceReviewCreated => {
                <MarketplaceReviewCreatedPayload as PartialSchema>::schema()
            }
        }
    }

    /// The schemas the payloads refer to (typed ids, timestamps), for the
    /// document's components.
    pub fn referenced_schemas() -> Vec<(String, RefOr<Schema>)> {
        let mut schemas = Vec::new();
        OrganizationUpdatedPayload::schemas(&mut schemas);
        MemberAddedPayload::schemas(&mut schemas);
        MemberRemovedPayload::schemas(&mut schemas);
        MemberRoleChangedPayload::schemas(&mut schemas);
        InvitationCreatedPayload::schemas(&mut schemas);
        InvitationAcceptedPayload::schemas(&mut schemas);
        ApiKeyCreatedPayload::schemas(&mut schemas);
        ApiKeyRevokedPayload::schemas(&mut schemas);
        UsageThresholdReachedPayload::schemas(&mut schemas);
        InvoiceCreatedPayload::schemas(&mut schemas);
        InvoiceOverduePayload::schemas(&mut schemas);
        InvoicePaidPayload::schemas(&mut schemas);
        PaymentSucceededPayload::schemas(&mut schemas);
        PaymentFailedPayload::schemas(&mut schemas);
        MessageSentPayload::schemas(&mut schemas);
        MessageFailedPayload::schemas(&mut schemas);
        WebhookTestPayload::schemas(&mut schemas);
        InboxMessageReceivedPayload::schemas(&mut schemas);
        InboxMessageStatusChangedPayload::schemas(&mut schemas);
        InboxConversationCreatedPayload::schemas(&mut schemas);
        InboxConversationAssignedPayload::schemas(&mut schemas);
        InboxConversationResolvedPayload::schemas(&mut schemas);
        MarketplaceOrderCreatedPayload::schemas(&mut schemas);
        MarketplaceOrderPaidPayload::schemas(&mut schemas);
        MarketplaceOrderCancelledPayload::schemas(&mut schemas);
        MarketplaceVendorOrderStatusChangedPayload::schemas(&mut schemas);
        MarketplacePayoutPaidPayload::schemas(&mut schemas);
        MarketplacePayoutFailedPayload::schemas(&mut schemas);
        MarketplaceReviewCreatedPayload::schemas(&mut schemas);
        schemas
    }

    /// The catalog as a Markdown table (the OpenAPI tag's description).
    pub fn markdown_table() -> String {
        let mut table = String::from("| type | version | description |\n| --- | --- | --- |\n");
        for t in EventType::ALL {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_description_and_an_object_schema() {
        for t in EventType::ALL {
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
        assert_eq!(
            EventType::InvoicePaid.schema_name(),
            "EventPayload_invoice_paid"
        );
    }
}
