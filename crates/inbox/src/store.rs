//! The Inbox's tables. Every read of an organization's data takes its id,
//! so another organization's ids find nothing.

use crate::ids::{
    BulkOperationId, CannedResponseId, InboxChannelId, InboxContactId, InboxConversationId,
    InboxMessageId, InboxTemplateId,
};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

landlord_core::text_enum!(
    /// Where a conversation stands.
    pub enum ConversationStatus {
        Open = "open",
        Pending = "pending",
        /// Until `snoozed_until`.
        Snoozed = "snoozed",
        Resolved = "resolved",
    }
);

landlord_core::text_enum!(
    pub enum Direction {
        Incoming = "incoming",
        Outgoing = "outgoing",
    }
);

landlord_core::text_enum!(
    pub enum MessageKind {
        Text = "text",
        Template = "template",
        /// An image, audio, video, document or sticker: its reference is kept.
        Media = "media",
    }
);

landlord_core::text_enum!(
    /// A message's delivery status. Outgoing: queued → sent → delivered →
    /// read, or failed; never backwards. Incoming: received.
    pub enum MessageStatus {
        Received = "received",
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
);

impl MessageStatus {
    /// Order of an outgoing message's statuses; a status moves only to a
    /// higher rank (`read` and `failed` both end it).
    pub fn rank(self) -> i64 {
        match self {
            MessageStatus::Received | MessageStatus::Queued => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered => 2,
            MessageStatus::Read | MessageStatus::Failed => 3,
        }
    }
}

/// The SQL of [`MessageStatus::rank`] over the `status` column.
const RANK_SQL: &str = "CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 \
     WHEN 'read' THEN 3 WHEN 'failed' THEN 3 ELSE 0 END";

// ---- channels ----------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: InboxChannelId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub phone_number_id: String,
    pub business_account_id: String,
    pub access_token_sealed: String,
    pub app_secret_sealed: String,
    pub verify_token_sealed: String,
    pub access_token_hint: String,
    pub rejected_webhooks: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const CHANNEL_COLUMNS: &str = "id, organization_id, name, phone_number_id, business_account_id, \
     access_token_sealed, app_secret_sealed, verify_token_sealed, access_token_hint, \
     rejected_webhooks, created_at, updated_at";

/// Adds a channel; false when its phone number id is connected already.
pub async fn insert_channel<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &ChannelRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO inbox_channels ({CHANNEL_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) ON CONFLICT DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.name)
    .bind(&row.phone_number_id)
    .bind(&row.business_account_id)
    .bind(&row.access_token_sealed)
    .bind(&row.app_secret_sealed)
    .bind(&row.verify_token_sealed)
    .bind(&row.access_token_hint)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn channels<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM inbox_channels WHERE organization_id = $1 ORDER BY id"
    ))
    .bind(organization_id)
    .fetch_all(executor)
    .await
}

pub async fn channel<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxChannelId,
) -> Result<Option<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM inbox_channels WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// Every organization's channels (integration health probes each one).
pub async fn all_channels<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<Vec<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM inbox_channels ORDER BY id"
    ))
    .fetch_all(executor)
    .await
}

/// A channel by id alone: Meta's webhook names the channel in its path,
/// and the signature (with the channel's app secret) proves the caller.
pub async fn channel_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxChannelId,
) -> Result<Option<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CHANNEL_COLUMNS} FROM inbox_channels WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

pub async fn delete_channel<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxChannelId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM inbox_channels WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(organization_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts an inbound notification refused for its signature.
pub async fn count_rejected<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxChannelId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_channels SET rejected_webhooks = rejected_webhooks + 1 WHERE id = $1",
    )
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}

// ---- contacts ----------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: InboxContactId,
    pub organization_id: OrganizationId,
    pub channel_id: InboxChannelId,
    pub wa_id: String,
    pub name: String,
    pub phone: String,
    /// JSON object.
    pub attributes: String,
    /// JSON array.
    pub labels: String,
    pub last_incoming_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const CONTACT_COLUMNS: &str = "id, organization_id, channel_id, wa_id, name, phone, attributes, \
     labels, last_incoming_at, created_at, updated_at";

/// The channel's contact with `wa_id`, created if new (a name given
/// replaces an empty one's). One row per (channel, WhatsApp id), whatever
/// the concurrency: the unique key decides.
pub async fn upsert_contact(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    channel_id: &InboxChannelId,
    wa_id: &str,
    name: &str,
    now: Timestamp,
) -> Result<ContactRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO inbox_contacts (id, organization_id, channel_id, wa_id, name, phone, \
             created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (channel_id, wa_id) DO UPDATE SET \
             name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE inbox_contacts.name END, \
             updated_at = excluded.updated_at \
         RETURNING {CONTACT_COLUMNS}"
    ))
    .bind(InboxContactId::generate())
    .bind(organization_id)
    .bind(channel_id)
    .bind(wa_id)
    .bind(name)
    .bind(format!("+{wa_id}"))
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Changes the contact's name, attributes (JSON object) and labels (JSON
/// array); false when the organization has no such contact.
pub async fn update_contact<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxContactId,
    name: &str,
    attributes: &str,
    labels: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE inbox_contacts SET name = $3, attributes = $4, labels = $5, updated_at = $6 \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(name)
    .bind(attributes)
    .bind(labels)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the contact's last incoming message forward to `at`.
pub async fn note_incoming(
    conn: &mut AnyConnection,
    id: &InboxContactId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_contacts SET last_incoming_at = $2 \
         WHERE id = $1 AND (last_incoming_at IS NULL OR last_incoming_at < $2)",
    )
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn contact<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxContactId,
) -> Result<Option<ContactRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONTACT_COLUMNS} FROM inbox_contacts WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// A page of the organization's contacts whose name or phone contains
/// `query` (letter case ignored; empty: all), newest first.
pub async fn contacts<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    query: &str,
    before: Option<&InboxContactId>,
    limit: i64,
) -> Result<Vec<ContactRow>, sqlx::Error> {
    let pattern = format!(
        "%{}%",
        query
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    sqlx::query_as(&format!(
        "SELECT {CONTACT_COLUMNS} FROM inbox_contacts \
         WHERE organization_id = $1 \
           AND (LOWER(name) LIKE $2 ESCAPE '\\' OR phone LIKE $2 ESCAPE '\\') \
           AND ($3 = '' OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(organization_id)
    .bind(pattern)
    .bind(before.map_or("", InboxContactId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

// ---- conversations -----------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: InboxConversationId,
    pub organization_id: OrganizationId,
    pub channel_id: InboxChannelId,
    pub contact_id: InboxContactId,
    pub number: i64,
    pub status: ConversationStatus,
    pub snoozed_until: Option<Timestamp>,
    pub assignee_id: Option<UserId>,
    pub team: Option<String>,
    pub last_activity_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const CONVERSATION_COLUMNS: &str = "id, organization_id, channel_id, contact_id, number, status, \
     snoozed_until, assignee_id, team, last_activity_at, resolved_at, created_at, updated_at";

/// The contact's conversation on the channel that is not resolved.
pub async fn unresolved_conversation(
    conn: &mut AnyConnection,
    channel_id: &InboxChannelId,
    contact_id: &InboxContactId,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM inbox_conversations \
         WHERE channel_id = $1 AND contact_id = $2 AND status <> 'resolved'"
    ))
    .bind(channel_id)
    .bind(contact_id)
    .fetch_optional(conn)
    .await
}

/// The organization's next display number.
pub async fn next_number(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "INSERT INTO inbox_counters (organization_id, last_number) VALUES ($1, 1) \
         ON CONFLICT (organization_id) DO UPDATE SET last_number = inbox_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(organization_id)
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Adds an open conversation; false when the contact has an unresolved
/// one on the channel already (the partial unique index).
pub async fn insert_conversation(
    conn: &mut AnyConnection,
    row: &ConversationRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO inbox_conversations ({CONVERSATION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, $7, NULL, $7, $7) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.channel_id)
    .bind(&row.contact_id)
    .bind(row.number)
    .bind(row.status)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    let inserted = done.rows_affected() == 1;
    if inserted {
        report_opened(&mut *conn, row).await?;
    }
    Ok(inserted)
}

/// Moves the conversation's last activity forward; a snoozed or pending
/// conversation with a new incoming message opens again.
pub async fn touch_conversation(
    conn: &mut AnyConnection,
    id: &InboxConversationId,
    at: Timestamp,
    reopen: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_conversations SET \
             last_activity_at = CASE WHEN last_activity_at < $2 THEN $2 ELSE last_activity_at END, \
             status = CASE WHEN $3 = 1 AND status IN ('snoozed', 'pending') THEN 'open' ELSE status END, \
             snoozed_until = CASE WHEN $3 = 1 THEN NULL ELSE snoozed_until END, \
             updated_at = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(i64::from(reopen))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn conversation<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxConversationId,
) -> Result<Option<ConversationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM inbox_conversations \
         WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// Which conversations to list, by last activity, newest first.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter<'a> {
    pub status: Option<ConversationStatus>,
    /// `Some(None)`: unassigned ones.
    pub assignee: Option<Option<&'a UserId>>,
    pub label: Option<&'a str>,
    /// The page cursor: conversations after this (activity, id).
    pub after: Option<(Timestamp, &'a InboxConversationId)>,
    pub limit: i64,
}

pub async fn conversations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    filter: ConversationFilter<'_>,
) -> Result<Vec<ConversationRow>, sqlx::Error> {
    let columns = CONVERSATION_COLUMNS
        .split(", ")
        .map(|c| format!("c.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (cursor_at, cursor_id) = filter
        .after
        .map_or((0, ""), |(at, id)| (at.millis(), id.as_str()));
    sqlx::query_as(&format!(
        "SELECT {columns} FROM inbox_conversations c \
         WHERE c.organization_id = $1 \
           AND ($2 = '' \
                OR (c.status = $2 AND NOT (c.status = 'snoozed' AND c.snoozed_until <= $10)) \
                OR ($2 = 'open' AND c.status = 'snoozed' AND c.snoozed_until <= $10)) \
           AND ($3 = 0 OR ($4 = '' AND c.assignee_id IS NULL) OR c.assignee_id = $4) \
           AND ($5 = '' OR EXISTS (SELECT 1 FROM inbox_conversation_labels l \
                WHERE l.conversation_id = c.id AND l.label = $5)) \
           AND ($6 = 0 OR c.last_activity_at < $7 OR (c.last_activity_at = $7 AND c.id < $8)) \
         ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $9"
    ))
    .bind(organization_id)
    .bind(filter.status.map_or("", ConversationStatus::as_str))
    .bind(i64::from(filter.assignee.is_some()))
    .bind(filter.assignee.flatten().map_or("", UserId::as_str))
    .bind(filter.label.unwrap_or(""))
    .bind(i64::from(filter.after.is_some()))
    .bind(cursor_at)
    .bind(cursor_id)
    .bind(filter.limit)
    .bind(Timestamp::now())
    .fetch_all(executor)
    .await
}

/// Sets the conversation's status (and its snooze or resolution time).
pub async fn set_status(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    id: &InboxConversationId,
    status: ConversationStatus,
    snoozed_until: Option<Timestamp>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let resolved_at = (status == ConversationStatus::Resolved).then_some(now);
    let done = sqlx::query(
        "UPDATE inbox_conversations SET status = $3, snoozed_until = $4, resolved_at = $5, \
         updated_at = $6 WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(status)
    .bind(snoozed_until)
    .bind(resolved_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let changed = done.rows_affected() == 1;
    if changed && status == ConversationStatus::Resolved {
        report_resolved(&mut *conn, id, now).await?;
    }
    Ok(changed)
}

/// Sets the conversation's assignee and team queue.
pub async fn assign(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    id: &InboxConversationId,
    assignee: Option<&UserId>,
    team: Option<&str>,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE inbox_conversations SET assignee_id = $3, team = $4, updated_at = $5 \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(assignee)
    .bind(team)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let changed = done.rows_affected() == 1;
    if changed {
        report_agent(&mut *conn, id, assignee).await?;
    }
    Ok(changed)
}

/// Replaces the conversation's labels.
pub async fn set_labels(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    id: &InboxConversationId,
    labels: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM inbox_conversation_labels WHERE conversation_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for label in labels {
        sqlx::query(
            "INSERT INTO inbox_conversation_labels (conversation_id, organization_id, label) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(organization_id)
        .bind(label)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The labels of `ids`, as (conversation, label) pairs.
pub async fn labels_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    ids: &[InboxConversationId],
) -> Result<Vec<(InboxConversationId, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders = (2..ids.len() + 2)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT conversation_id, label FROM inbox_conversation_labels \
         WHERE organization_id = $1 AND conversation_id IN ({placeholders}) ORDER BY label"
    );
    let mut query = sqlx::query_as(&sql).bind(organization_id);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(executor).await
}

// ---- messages ----------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: InboxMessageId,
    pub organization_id: OrganizationId,
    pub conversation_id: InboxConversationId,
    pub channel_id: InboxChannelId,
    pub direction: Direction,
    pub kind: MessageKind,
    pub body: String,
    /// JSON.
    pub template: Option<String>,
    /// JSON.
    pub media: Option<String>,
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub sent_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const MESSAGE_COLUMNS: &str = "id, organization_id, conversation_id, channel_id, direction, kind, \
     body, template, media, provider_message_id, status, error, sent_by, created_at, updated_at";

/// Adds a message; false when the channel has one with its provider id
/// (a notification delivered twice).
pub async fn insert_message(
    conn: &mut AnyConnection,
    row: &MessageRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "INSERT INTO inbox_messages ({MESSAGE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.conversation_id)
    .bind(&row.channel_id)
    .bind(row.direction)
    .bind(row.kind)
    .bind(&row.body)
    .bind(&row.template)
    .bind(&row.media)
    .bind(&row.provider_message_id)
    .bind(row.status)
    .bind(&row.error)
    .bind(&row.sent_by)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    let inserted = done.rows_affected() == 1;
    if inserted && row.direction == Direction::Outgoing {
        report_first_response(&mut *conn, &row.conversation_id, row.created_at).await?;
    }
    Ok(inserted)
}

/// Whether the channel already stored a message with this provider id.
pub async fn has_provider_message(
    conn: &mut AnyConnection,
    channel_id: &InboxChannelId,
    provider_message_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(InboxMessageId,)> = sqlx::query_as(
        "SELECT id FROM inbox_messages WHERE channel_id = $1 AND provider_message_id = $2",
    )
    .bind(channel_id)
    .bind(provider_message_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

pub async fn message_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxMessageId,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM inbox_messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// A page of the conversation's messages, newest first.
pub async fn messages<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    conversation_id: &InboxConversationId,
    before: Option<&InboxMessageId>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM inbox_messages \
         WHERE organization_id = $1 AND conversation_id = $2 AND ($3 = '' OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(organization_id)
    .bind(conversation_id)
    .bind(before.map_or("", InboxMessageId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Moves the message with `provider_message_id` on the channel to
/// `status` when that is further along; returns it when it moved.
pub async fn advance_status(
    conn: &mut AnyConnection,
    channel_id: &InboxChannelId,
    provider_message_id: &str,
    status: MessageStatus,
    error: Option<&str>,
    now: Timestamp,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE inbox_messages SET status = $3, error = COALESCE($4, error), updated_at = $5 \
         WHERE channel_id = $1 AND provider_message_id = $2 AND direction = 'outgoing' \
           AND {RANK_SQL} < $6 \
         RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(channel_id)
    .bind(provider_message_id)
    .bind(status)
    .bind(error)
    .bind(now)
    .bind(status.rank())
    .fetch_optional(conn)
    .await
}

/// A queued message was accepted by the provider under `provider_message_id`.
pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: &InboxMessageId,
    provider_message_id: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE inbox_messages SET provider_message_id = $2, status = 'sent', updated_at = $3 \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(provider_message_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The provider refused a queued message.
pub async fn mark_failed(
    conn: &mut AnyConnection,
    id: &InboxMessageId,
    error: &str,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE inbox_messages SET status = 'failed', error = $2, updated_at = $3 \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- canned responses and templates ------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CannedResponseRow {
    pub id: CannedResponseId,
    pub organization_id: OrganizationId,
    pub short_code: String,
    pub content: String,
    pub created_at: Timestamp,
}

/// Adds a canned response; false when its short code is taken.
pub async fn insert_canned_response<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &CannedResponseRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO inbox_canned_responses (id, organization_id, short_code, content, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.short_code)
    .bind(&row.content)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn canned_responses<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<CannedResponseRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, short_code, content, created_at FROM inbox_canned_responses \
         WHERE organization_id = $1 ORDER BY short_code LIMIT 500",
    )
    .bind(organization_id)
    .fetch_all(executor)
    .await
}

pub async fn delete_canned_response<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &CannedResponseId,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM inbox_canned_responses WHERE id = $1 AND organization_id = $2")
            .bind(id)
            .bind(organization_id)
            .execute(executor)
            .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: InboxTemplateId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub language: String,
    pub body: String,
    pub parameters: i64,
    pub created_at: Timestamp,
}

/// Adds a template; false when (name, language) exists.
pub async fn insert_template<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &TemplateRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO inbox_templates (id, organization_id, name, language, body, parameters, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.name)
    .bind(&row.language)
    .bind(&row.body)
    .bind(row.parameters)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn templates<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, name, language, body, parameters, created_at \
         FROM inbox_templates WHERE organization_id = $1 ORDER BY name, language LIMIT 500",
    )
    .bind(organization_id)
    .fetch_all(executor)
    .await
}

pub async fn template_named<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    name: &str,
    language: &str,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, name, language, body, parameters, created_at \
         FROM inbox_templates WHERE organization_id = $1 AND name = $2 AND language = $3",
    )
    .bind(organization_id)
    .bind(name)
    .bind(language)
    .fetch_optional(executor)
    .await
}

pub async fn delete_template<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InboxTemplateId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM inbox_templates WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(organization_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---- bulk operations ---------------------------------------------------------------

landlord_core::text_enum!(
    /// What a bulk operation does to each conversation.
    pub enum BulkAction {
        /// Resolve it.
        Close = "close",
        Assign = "assign",
        /// Add labels.
        Label = "label",
    }
);

landlord_core::text_enum!(
    pub enum BulkStatus {
        Queued = "queued",
        Running = "running",
        Done = "done",
    }
);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BulkRow {
    pub id: BulkOperationId,
    pub organization_id: OrganizationId,
    pub action: BulkAction,
    /// JSON.
    pub params: String,
    pub status: BulkStatus,
    pub total: i64,
    pub done: i64,
    pub created_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

const BULK_COLUMNS: &str = "id, organization_id, action, params, status, total, done, created_by, \
     created_at, updated_at, finished_at";

/// The ids of the organization's conversations matching `filter` (or, with
/// `ids`, those of them that are the organization's), at most `limit`.
pub async fn target_ids(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    ids: Option<&[InboxConversationId]>,
    filter: ConversationFilter<'_>,
) -> Result<Vec<InboxConversationId>, sqlx::Error> {
    match ids {
        Some(ids) => {
            let mut found = Vec::new();
            for chunk in ids.chunks(500) {
                let placeholders = (2..chunk.len() + 2)
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "SELECT id FROM inbox_conversations \
                     WHERE organization_id = $1 AND id IN ({placeholders})"
                );
                let mut query =
                    sqlx::query_as::<_, (InboxConversationId,)>(&sql).bind(organization_id);
                for id in chunk {
                    query = query.bind(id);
                }
                found.extend(
                    query
                        .fetch_all(&mut *conn)
                        .await?
                        .into_iter()
                        .map(|(id,)| id),
                );
            }
            Ok(found)
        }
        None => Ok(conversations(&mut *conn, organization_id, filter)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect()),
    }
}

/// Adds the operation and its targets.
pub async fn insert_bulk(
    conn: &mut AnyConnection,
    row: &BulkRow,
    targets: &[InboxConversationId],
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO inbox_bulk_operations ({BULK_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8, NULL)"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(row.action)
    .bind(&row.params)
    .bind(row.status)
    .bind(row.total)
    .bind(&row.created_by)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    for chunk in targets.chunks(500) {
        let values = landlord_core::db::values_placeholders(conn, chunk.len(), 2);
        let sql = format!(
            "INSERT INTO inbox_bulk_targets (operation_id, conversation_id) VALUES {values}"
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(row.id.clone()).bind(id.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn bulk<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &BulkOperationId,
) -> Result<Option<BulkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BULK_COLUMNS} FROM inbox_bulk_operations WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

pub async fn bulk_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &BulkOperationId,
) -> Result<Option<BulkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {BULK_COLUMNS} FROM inbox_bulk_operations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// Up to `limit` targets of the operation not yet applied.
pub async fn pending_targets(
    conn: &mut AnyConnection,
    id: &BulkOperationId,
    limit: i64,
) -> Result<Vec<InboxConversationId>, sqlx::Error> {
    let rows: Vec<(InboxConversationId,)> = sqlx::query_as(
        "SELECT conversation_id FROM inbox_bulk_targets WHERE operation_id = $1 AND done = 0 \
         ORDER BY conversation_id LIMIT $2",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Marks a target applied and counts it in the operation's progress.
pub async fn target_done(
    conn: &mut AnyConnection,
    id: &BulkOperationId,
    conversation_id: &InboxConversationId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let marked = sqlx::query(
        "UPDATE inbox_bulk_targets SET done = 1 \
         WHERE operation_id = $1 AND conversation_id = $2 AND done = 0",
    )
    .bind(id)
    .bind(conversation_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE inbox_bulk_operations SET done = done + $2, status = 'running', updated_at = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(marked as i64)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The operation is over.
pub async fn bulk_finished(
    conn: &mut AnyConnection,
    id: &BulkOperationId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_bulk_operations SET status = 'done', updated_at = $2, finished_at = $2 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds labels to a conversation (keeping its others).
pub async fn add_labels(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    id: &InboxConversationId,
    labels: &[String],
) -> Result<(), sqlx::Error> {
    for label in labels {
        sqlx::query(
            "INSERT INTO inbox_conversation_labels (conversation_id, organization_id, label) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(organization_id)
        .bind(label)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

// ---- the realtime stream -----------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StreamEventRow {
    pub id: String,
    pub organization_id: OrganizationId,
    pub kind: String,
    /// JSON.
    pub payload: String,
    pub created_at: Timestamp,
}

/// Writes a stream event (in the transaction of its change).
pub async fn insert_stream_event<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &StreamEventRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inbox_stream_events (id, organization_id, kind, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.kind)
    .bind(&row.payload)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// The organization's stream events after `after` (all of the last
/// minute when `None`), oldest first, at most `limit`.
pub async fn stream_events_after<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    after: &str,
    limit: i64,
) -> Result<Vec<StreamEventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, kind, payload, created_at FROM inbox_stream_events \
         WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(organization_id)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The organization's newest stream event id ('' when none).
pub async fn last_stream_event<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<String, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM inbox_stream_events WHERE organization_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(organization_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(id,)| id).unwrap_or_default())
}

/// Deletes stream events older than `before` (the daily purge).
pub async fn purge_stream_events<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    before: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM inbox_stream_events WHERE created_at < $1")
        .bind(before)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

// ---- reports -----------------------------------------------------------------------

const HOUR_MS: i64 = 3_600_000;

fn hour_of(at: Timestamp) -> i64 {
    at.millis().div_euclid(HOUR_MS) * HOUR_MS
}

/// Records a conversation's opening for the reports.
pub async fn report_opened<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &ConversationRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO inbox_report_conversations \
             (conversation_id, organization_id, channel_id, agent_id, opened_at, opened_hour) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.channel_id)
    .bind(&row.assignee_id)
    .bind(row.created_at)
    .bind(hour_of(row.created_at))
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the conversation's first answer (later ones change nothing).
pub async fn report_first_response<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxConversationId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_report_conversations SET first_response_at = $2, \
             first_response_hour = $3, first_response_ms = $2 - opened_at \
         WHERE conversation_id = $1 AND first_response_at IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(hour_of(at))
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the conversation's resolution (the last one counts).
pub async fn report_resolved<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxConversationId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE inbox_report_conversations SET resolved_at = $2, resolved_hour = $3, \
             resolution_ms = $2 - opened_at \
         WHERE conversation_id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(hour_of(at))
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the conversation's agent (its assignee).
pub async fn report_agent<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &InboxConversationId,
    agent: Option<&UserId>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE inbox_report_conversations SET agent_id = $2 WHERE conversation_id = $1")
        .bind(id)
        .bind(agent)
        .execute(executor)
        .await?;
    Ok(())
}

/// One conversation's report figures (with one of its labels when asked
/// for labels: a conversation with two labels comes twice).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRow {
    pub conversation_id: InboxConversationId,
    pub channel_id: InboxChannelId,
    pub agent_id: Option<UserId>,
    pub label: Option<String>,
    pub opened_at: Timestamp,
    pub first_response_at: Option<Timestamp>,
    pub first_response_ms: Option<i64>,
    pub resolved_at: Option<Timestamp>,
    pub resolution_ms: Option<i64>,
}

/// The organization's report rows with anything in `[from, to)`: opened,
/// first answered or resolved then. Reads the report table only (and the
/// labels when `with_labels`), never the messages; any executor (a
/// replica's pool will do).
pub async fn report_rows<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    from: Timestamp,
    to: Timestamp,
    with_labels: bool,
) -> Result<Vec<ReportRow>, sqlx::Error> {
    let label = if with_labels {
        "l.label AS label"
    } else {
        "CAST(NULL AS TEXT) AS label"
    };
    let join = if with_labels {
        "JOIN inbox_conversation_labels l ON l.conversation_id = r.conversation_id"
    } else {
        ""
    };
    let from_hour = hour_of(from);
    sqlx::query_as(&format!(
        "SELECT r.conversation_id, r.channel_id, r.agent_id, {label}, r.opened_at, \
                r.first_response_at, r.first_response_ms, r.resolved_at, r.resolution_ms \
         FROM inbox_report_conversations r {join} \
         WHERE r.organization_id = $1 \
           AND ((r.opened_hour >= $2 AND r.opened_hour < $3) \
             OR (r.first_response_hour >= $2 AND r.first_response_hour < $3) \
             OR (r.resolved_hour >= $2 AND r.resolved_hour < $3)) \
         ORDER BY r.conversation_id"
    ))
    .bind(organization_id)
    .bind(from_hour)
    .bind(to)
    .fetch_all(executor)
    .await
}
