//! The inbox's typed ids (see `landlord_core::ids`): one type per entity,
//! so that a swapped argument does not compile.

landlord_core::entity_id!(
    /// A WhatsApp number connected to an organization's inbox.
    InboxChannelId
);

landlord_core::entity_id!(
    /// A person the inbox talks with, on one channel.
    InboxContactId
);

landlord_core::entity_id!(
    /// A conversation of the inbox.
    InboxConversationId
);

landlord_core::entity_id!(
    /// A message of a conversation (incoming or outgoing).
    InboxMessageId
);

landlord_core::entity_id!(
    /// A canned response (a reply saved under a short code).
    CannedResponseId
);

landlord_core::entity_id!(
    /// An approved message template.
    InboxTemplateId
);

landlord_core::entity_id!(
    /// A bulk operation of the inbox (a job with progress).
    BulkOperationId
);
