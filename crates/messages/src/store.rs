//! Messages' storage: the feature owns `messages`, and every query of it is
//! here.

use landlord_core::ids::{ApiKeyId, MessageId, OrganizationId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

landlord_core::text_enum!(
    /// How a message travels.
    pub enum Channel {
        Email = "email",
        Sms = "sms",
    }
);

landlord_core::text_enum!(
    /// Where a message is: `queued` until delivered (or while retrying,
    /// with the last failure's reason), then `sent` or `failed`.
    pub enum MessageStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
    }
);

/// A message as its sender sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: MessageId,
    pub channel: Channel,
    pub recipient: String,
    pub subject: Option<String>,
    pub status: MessageStatus,
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A message to queue.
pub struct NewMessage<'a> {
    pub id: &'a MessageId,
    pub organization_id: &'a OrganizationId,
    pub api_key_id: &'a ApiKeyId,
    pub channel: Channel,
    pub recipient: &'a str,
    pub subject: Option<&'a str>,
    pub body: &'a str,
    pub created_at: Timestamp,
}

/// Stores a message as `queued`.
pub async fn insert_queued<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    message: NewMessage<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages (id, organization_id, api_key_id, channel, recipient, subject, body, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(message.id)
    .bind(message.organization_id)
    .bind(message.api_key_id)
    .bind(message.channel)
    .bind(message.recipient)
    .bind(message.subject)
    .bind(message.body)
    .bind(MessageStatus::Queued)
    .bind(message.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &MessageId,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, channel, recipient, subject, status, failure_reason, created_at, sent_at \
         FROM messages WHERE organization_id = $1 AND id = $2",
    )
    .bind(organization_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// What delivering a message needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Delivery {
    pub organization_id: OrganizationId,
    pub channel: Channel,
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub status: MessageStatus,
}

pub async fn for_delivery<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as("SELECT organization_id, channel, recipient, subject, body, status FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await
}

pub async fn mark_sent<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET status = $2, sent_at = $3, updated_at = $3, failure_reason = NULL WHERE id = $1",
    )
    .bind(id)
    .bind(MessageStatus::Sent)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Records a failed attempt: its reason, and `status` (still `queued`
/// while retries remain, `failed` after the last).
pub async fn mark_attempt_failed<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    status: MessageStatus,
    reason: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET status = $2, failure_reason = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(())
}
