//! Messages' storage: the feature owns `messages`, and every query of it is
//! here.

use landlord_core::ids::{ApiKeyId, MessageId, OrganizationId};
use landlord_core::{Db, Timestamp};
use sqlx::{Any, Executor};

landlord_core::text_enum!(
    /// How a message travels.
    pub enum Channel {
        Email = "email",
        Sms = "sms",
    }
);

landlord_core::text_enum!(
    /// Where a message is: `queued` until a provider takes it (or while
    /// retrying, with the last failure's reason); `sent` when the SMTP
    /// server or the SMS provider took it; `delivered` when the SMS
    /// provider reports it reached the phone; `failed` when it was refused,
    /// failed after its retries or was reported undelivered; `simulated`
    /// when a development outbox wrote it to a file (nobody received it).
    ///
    /// Named apart from any other `MessageStatus` (a module's messages
    /// have their own): the OpenAPI document names a schema by its type's
    /// name, and two enums under one name would publish one's values for
    /// the other.
    pub enum MessageDeliveryStatus {
        Queued = "queued",
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
        Simulated = "simulated",
    }
);

/// The messaging API's status of a message (see [`MessageDeliveryStatus`]).
pub type MessageStatus = MessageDeliveryStatus;

impl MessageStatus {
    /// Order of the statuses: a message only moves to a higher rank
    /// (`delivered`, `failed` and `simulated` end it).
    pub fn rank(self) -> i64 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sent => 1,
            MessageStatus::Delivered | MessageStatus::Failed | MessageStatus::Simulated => 2,
        }
    }
}

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
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub delivered_at: Option<Timestamp>,
}

const MESSAGE_COLUMNS: &str =
    "id, channel, recipient, subject, status, failure_reason, created_at, \
     sent_at, provider, provider_message_id, delivered_at";

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

/// A message of `organization_id` as its sender reads it: the API's hot
/// read. On SQLite it runs on the calling thread (see
/// [`landlord_core::sqlite_reader`]); elsewhere, or should that fail, on
/// the pool like [`by_id`].
pub async fn read_by_id(
    db: &Db,
    organization_id: &OrganizationId,
    id: &MessageId,
) -> Result<Option<MessageRow>, sqlx::Error> {
    if let Some(reader) = db.sqlite_reader() {
        let read = reader.query_row(
            "SELECT id, channel, recipient, subject, status, failure_reason, created_at, \
             sent_at, provider, provider_message_id, delivered_at \
             FROM messages WHERE organization_id = ?1 AND id = ?2",
            [organization_id.as_str(), id.as_str()],
            |row| {
                Ok(MessageRow {
                    id: row.get(0)?,
                    channel: row.get(1)?,
                    recipient: row.get(2)?,
                    subject: row.get(3)?,
                    status: row.get(4)?,
                    failure_reason: row.get(5)?,
                    created_at: row.get(6)?,
                    sent_at: row.get(7)?,
                    provider: row.get(8)?,
                    provider_message_id: row.get(9)?,
                    delivered_at: row.get(10)?,
                })
            },
        );
        match read {
            Ok(message) => return Ok(message),
            Err(error) => {
                tracing::warn!(%error, "reading a message on the calling thread failed; reading it on the pool")
            }
        }
    }
    by_id(db.pool(), organization_id, id).await
}

pub async fn by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &MessageId,
) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE organization_id = $1 AND id = $2"
    ))
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
}

/// Claims a queued message for one hand-over to its provider, until
/// `until`: only a message still `queued`, without a provider id, and not
/// claimed by a delivery still running (an expired claim is taken over).
/// `None`: another run holds it, or it was handed over already.
pub async fn claim_for_delivery<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    now: Timestamp,
    until: Timestamp,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE messages SET claimed_until = $3 \
         WHERE id = $1 AND status = 'queued' AND provider_message_id IS NULL \
           AND (claimed_until IS NULL OR claimed_until < $2) \
         RETURNING organization_id, channel, recipient, subject, body",
    )
    .bind(id)
    .bind(now)
    .bind(until)
    .fetch_optional(executor)
    .await
}

/// Where a message is, for a delivery that could not claim it.
pub async fn status_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
) -> Result<Option<(MessageStatus, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT status, provider_message_id FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// Records the hand-over when the message is still `queued`: `status`
/// (`sent`, `simulated`, or `failed` when the provider answered a failure
/// at once), the provider and its id, the claim released. Returns whether
/// it moved; when it did not, a status callback came first (it knows the
/// message by id) and moved it further: see [`fill_in_provider`].
pub async fn record_handover<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    handover: Handover<'_>,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE messages SET status = $2, provider = $3, provider_message_id = $4, \
           sent_at = $5, failure_reason = $6, claimed_until = NULL, updated_at = $7 \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(handover.status)
    .bind(handover.provider)
    .bind(handover.provider_message_id)
    .bind((handover.status != MessageStatus::Failed).then_some(at))
    .bind(handover.failure_reason)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Fills in the provider and its id of a message a status callback moved
/// before its hand-over was recorded, and releases the claim.
pub async fn fill_in_provider<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    provider: &str,
    provider_message_id: &str,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE messages SET provider = COALESCE(provider, $2), \
           provider_message_id = COALESCE(provider_message_id, $3), \
           claimed_until = NULL, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(provider)
    .bind(provider_message_id)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(())
}

/// A provider's acceptance (or immediate refusal) of a message.
pub struct Handover<'a> {
    pub status: MessageStatus,
    pub provider: &'a str,
    /// None for SMTP (no id comes back).
    pub provider_message_id: Option<&'a str>,
    pub failure_reason: Option<&'a str>,
}

/// Records a failed attempt: its reason, and `status` (still `queued`
/// while retries remain, `failed` after the last); releases the claim.
/// Returns whether the message was still queued (a status callback may
/// have settled it meanwhile).
pub async fn mark_attempt_failed<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    status: MessageStatus,
    reason: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE messages SET status = $2, failure_reason = $3, updated_at = $4, claimed_until = NULL \
         WHERE id = $1 AND status = 'queued'",
    )
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(at)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// What a status callback needs to know of its message.
#[derive(Debug, sqlx::FromRow)]
pub struct CallbackTarget {
    pub id: MessageId,
    pub organization_id: OrganizationId,
    pub channel: Channel,
    pub recipient: String,
    pub status: MessageStatus,
    pub provider_message_id: Option<String>,
}

/// The message a status callback is about: by our id when the callback URL
/// carries it (it may come before the hand-over is recorded), by the
/// provider's id otherwise.
pub async fn callback_target<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: Option<&MessageId>,
    provider: &str,
    provider_message_id: &str,
) -> Result<Option<CallbackTarget>, sqlx::Error> {
    let columns = "id, organization_id, channel, recipient, status, provider_message_id";
    match id {
        Some(id) => {
            sqlx::query_as(&format!("SELECT {columns} FROM messages WHERE id = $1"))
                .bind(id)
                .fetch_optional(executor)
                .await
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {columns} FROM messages WHERE provider = $1 AND provider_message_id = $2"
            ))
            .bind(provider)
            .bind(provider_message_id)
            .fetch_optional(executor)
            .await
        }
    }
}

/// Moves a message from `from` (what the caller read) to a status
/// callback's status, compare-and-set: `false` when it is no longer in
/// `from` (another change came in between; read again). Records the
/// provider's id when the hand-over was not recorded yet. The caller
/// checks that the move goes forward.
pub async fn advance_status<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &MessageId,
    from: MessageStatus,
    advance: Advance<'_>,
) -> Result<bool, sqlx::Error> {
    let delivered = advance.status == MessageStatus::Delivered;
    let result = sqlx::query(
        "UPDATE messages SET status = $3, \
           provider = COALESCE(provider, $4), \
           provider_message_id = COALESCE(provider_message_id, $5), \
           sent_at = COALESCE(sent_at, $6), \
           delivered_at = COALESCE(delivered_at, $7), \
           failure_reason = COALESCE($8, failure_reason), updated_at = $6 \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(advance.status)
    .bind(advance.provider)
    .bind(advance.provider_message_id)
    .bind(advance.at)
    .bind(delivered.then_some(advance.at))
    .bind(advance.failure_reason)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// A status callback's news.
pub struct Advance<'a> {
    pub status: MessageStatus,
    pub provider: &'a str,
    pub provider_message_id: &'a str,
    pub failure_reason: Option<&'a str>,
    pub at: Timestamp,
}
