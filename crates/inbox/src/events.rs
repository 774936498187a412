//! The inbox's events: each payload (what a receiver needs, with typed
//! ids) and its type, which the binary adds to the event catalog after the
//! core's ([`EVENT_TYPES`]).

use landlord_core::ids::{OrganizationId, UserId};
use landlord_events::EventType;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ids::{InboxChannelId, InboxContactId, InboxConversationId, InboxMessageId};

/// `inbox.message.received`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxMessageReceivedPayload {
    pub organization_id: OrganizationId,
    pub channel_id: InboxChannelId,
    pub conversation_id: InboxConversationId,
    pub contact_id: InboxContactId,
    pub message_id: InboxMessageId,
    /// `text`, `template` or `media`.
    #[schema(example = "text")]
    pub kind: String,
    pub body: String,
    /// The contact's WhatsApp id.
    pub from: String,
}
landlord_events::event_type!(
    pub const MESSAGE_RECEIVED: InboxMessageReceivedPayload = (
        "inbox.message.received",
        1,
        "Inbox: a WhatsApp message came in from a contact.",
    )
);

/// `inbox.message.status_changed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxMessageStatusChangedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub message_id: InboxMessageId,
    /// `sent`, `delivered`, `read` or `failed`.
    #[schema(example = "delivered")]
    pub status: String,
    pub error: Option<String>,
}
landlord_events::event_type!(
    pub const MESSAGE_STATUS_CHANGED: InboxMessageStatusChangedPayload = (
        "inbox.message.status_changed",
        1,
        "Inbox: an outgoing message moved on (sent, delivered, read or failed).",
    )
);

/// `inbox.conversation.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationCreatedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub channel_id: InboxChannelId,
    pub contact_id: InboxContactId,
    /// The organization's display number.
    pub number: i64,
}
landlord_events::event_type!(
    pub const CONVERSATION_CREATED: InboxConversationCreatedPayload = (
        "inbox.conversation.created",
        1,
        "Inbox: a conversation began (a contact's first message, or after the last was \
         resolved).",
    )
);

/// `inbox.conversation.assigned`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationAssignedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    /// `null`: unassigned.
    pub assignee_id: Option<UserId>,
    pub team: Option<String>,
    pub assigned_by: UserId,
}
landlord_events::event_type!(
    pub const CONVERSATION_ASSIGNED: InboxConversationAssignedPayload = (
        "inbox.conversation.assigned",
        1,
        "Inbox: a conversation's assignee or team changed.",
    )
);

/// `inbox.conversation.resolved`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxConversationResolvedPayload {
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub resolved_by: Option<UserId>,
}
landlord_events::event_type!(
    pub const CONVERSATION_RESOLVED: InboxConversationResolvedPayload = (
        "inbox.conversation.resolved",
        1,
        "Inbox: a conversation was resolved.",
    )
);

/// The inbox's types, in the catalog's order.
pub const EVENT_TYPES: &[EventType] = &[
    MESSAGE_RECEIVED,
    MESSAGE_STATUS_CHANGED,
    CONVERSATION_CREATED,
    CONVERSATION_ASSIGNED,
    CONVERSATION_RESOLVED,
];
