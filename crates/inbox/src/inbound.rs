//! What Meta sends: the verification handshake, and signed notifications
//! (incoming messages, status callbacks). The route verifies the
//! signature on the raw body before anything else and queues the body as
//! an `inbox.process_notification` job, so it answers 200 at once; the
//! job stores contacts, conversations and messages, each message once.

use crate::events::{
    InboxConversationCreatedPayload, InboxMessageReceivedPayload, InboxMessageStatusChangedPayload,
};
use crate::ids::{InboxChannelId, InboxConversationId, InboxMessageId};
use anyhow::Context;
use landlord_core::{ApiError, Db, Timestamp};
use landlord_identity::IdentityState;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::channels;
use crate::store::{
    self, ChannelRow, ConversationRow, ConversationStatus, Direction, MessageKind, MessageRow,
    MessageStatus,
};
use crate::whatsapp::{self, IncomingMessage, Notification, StatusUpdate};

/// Kind of the job that processes one notification.
pub const PROCESS_JOB: &str = "inbox.process_notification";

/// The channel named by the webhook's path (any organization's: the
/// signature proves the caller).
async fn channel_of(state: &IdentityState, id: &str) -> Result<ChannelRow, ApiError> {
    let id = InboxChannelId::parse(id).ok_or_else(channels::channel_not_found)?;
    store::channel_by_id(state.db.pool(), &id)
        .await?
        .ok_or_else(channels::channel_not_found)
}

/// Meta's verification: `hub.mode=subscribe` with the channel's verify
/// token answers `hub.challenge`; anything else is refused (403).
pub async fn verify_subscription(
    state: &IdentityState,
    channel_id: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> Result<String, ApiError> {
    let channel = channel_of(state, channel_id).await?;
    let expected = channels::open(
        &state.payload_cipher,
        &channel.id,
        "verify_token",
        &channel.verify_token_sealed,
    )
    .map_err(ApiError::internal)?;
    let matches = token.is_some_and(|t| {
        landlord_core::crypto::constant_time_eq(t.as_bytes(), expected.as_bytes())
    });
    match (mode, matches, challenge) {
        (Some("subscribe"), true, Some(challenge)) if challenge.len() <= 256 => {
            Ok(challenge.to_string())
        }
        _ => Err(ApiError::Forbidden(
            "the verification request's mode or verify token does not match".into(),
        )),
    }
}

/// A notification job's payload: the channel and the raw body.
#[derive(Debug, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub channel_id: InboxChannelId,
    pub body: String,
}

/// Checks `X-Hub-Signature-256` on the raw body, then queues its
/// processing. A bad or missing signature stores nothing but the
/// channel's counter (401).
pub async fn receive(
    state: &IdentityState,
    channel_id: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let channel = channel_of(state, channel_id).await?;
    let app_secret = channels::open(
        &state.payload_cipher,
        &channel.id,
        "app_secret",
        &channel.app_secret_sealed,
    )
    .map_err(ApiError::internal)?;
    let signed = signature.is_some_and(|s| whatsapp::signature_matches(&app_secret, body, s));
    if !signed {
        store::count_rejected(state.db.pool(), &channel.id).await?;
        return Err(ApiError::Unauthorized(
            "X-Hub-Signature-256 is missing or does not match the body".into(),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the body is not UTF-8 JSON"))?;
    serde_json::from_str::<Notification>(text)
        .map_err(|e| ApiError::bad_request(format!("not a WhatsApp notification: {e}")))?;
    let job = NewJob::new(
        PROCESS_JOB,
        serde_json::to_value(NotificationPayload {
            channel_id: channel.id,
            body: text.to_string(),
        })
        .map_err(ApiError::internal)?,
    );
    let mut tx = state.db.begin().await?;
    landlord_jobs::enqueue(&mut *tx, job).await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(())
}

/// Works `inbox.process_notification` jobs.
pub struct ProcessNotification {
    pub db: Db,
    pub live: crate::live::Live,
}

#[async_trait::async_trait]
impl JobHandler for ProcessNotification {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let payload: NotificationPayload =
            serde_json::from_value(payload.clone()).context("a notification job's payload")?;
        let Some(channel) = store::channel_by_id(self.db.pool(), &payload.channel_id).await? else {
            return Ok(()); // disconnected since
        };
        let notification: Notification =
            serde_json::from_str(&payload.body).context("a WhatsApp notification")?;
        for entry in &notification.entry {
            for change in entry.changes.iter().filter(|c| c.field == "messages") {
                let value = &change.value;
                if let Some(metadata) = &value.metadata {
                    if metadata.phone_number_id != channel.phone_number_id {
                        tracing::warn!(channel = %channel.id, "a notification for another phone number id; ignored");
                        continue;
                    }
                }
                for message in &value.messages {
                    let name = value
                        .contacts
                        .iter()
                        .find(|c| c.wa_id == message.from)
                        .and_then(|c| c.profile.as_ref())
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    self.incoming(&channel, message, &name).await?;
                }
                for status in &value.statuses {
                    self.status(&channel, status).await?;
                }
            }
        }
        Ok(())
    }
}

/// The provider's Unix-seconds timestamp, or now.
fn provider_time(text: &str) -> Timestamp {
    text.parse::<i64>()
        .ok()
        .filter(|s| *s > 0)
        .map(|s| Timestamp::from_millis(s.saturating_mul(1000)))
        .unwrap_or_else(Timestamp::now)
}

impl ProcessNotification {
    /// Stores one incoming message (once per provider id) with its
    /// contact and conversation, in one transaction.
    async fn incoming(
        &self,
        channel: &ChannelRow,
        message: &IncomingMessage,
        name: &str,
    ) -> anyhow::Result<()> {
        let now = Timestamp::now();
        let sent_at = provider_time(&message.timestamp);
        let mut tx = self.db.begin().await?;
        if store::has_provider_message(&mut tx, &channel.id, &message.id).await? {
            return Ok(()); // a duplicate delivery
        }
        let organization_id = &channel.organization_id;
        let contact = store::upsert_contact(
            &mut tx,
            organization_id,
            &channel.id,
            &message.from,
            name,
            now,
        )
        .await?;
        let (conversation, created) =
            match store::unresolved_conversation(&mut tx, &channel.id, &contact.id).await? {
                Some(conversation) => (conversation, false),
                None => {
                    let number = store::next_number(&mut tx, organization_id).await?;
                    let row = ConversationRow {
                        id: InboxConversationId::generate(),
                        organization_id: organization_id.clone(),
                        channel_id: channel.id.clone(),
                        contact_id: contact.id.clone(),
                        number,
                        status: ConversationStatus::Open,
                        snoozed_until: None,
                        assignee_id: None,
                        team: None,
                        last_activity_at: now,
                        resolved_at: None,
                        created_at: now,
                        updated_at: now,
                    };
                    if store::insert_conversation(&mut tx, &row).await? {
                        (row, true)
                    } else {
                        // Another notification opened it meanwhile.
                        let existing =
                            store::unresolved_conversation(&mut tx, &channel.id, &contact.id)
                                .await?
                                .context("the unresolved conversation that won the race")?;
                        (existing, false)
                    }
                }
            };
        let (kind, body, media) = match (message.kind.as_str(), &message.text, message.media()) {
            ("text", Some(text), _) => (MessageKind::Text, text.body.clone(), None),
            (_, _, Some(media)) => (MessageKind::Media, String::new(), Some(media.to_string())),
            (other, _, None) => (MessageKind::Media, format!("[{other} message]"), None),
        };
        let row = MessageRow {
            id: InboxMessageId::generate(),
            organization_id: organization_id.clone(),
            conversation_id: conversation.id.clone(),
            channel_id: channel.id.clone(),
            direction: Direction::Incoming,
            kind,
            body: body.clone(),
            template: None,
            media,
            provider_message_id: Some(message.id.clone()),
            status: MessageStatus::Received,
            error: None,
            sent_by: None,
            created_at: now,
            updated_at: now,
        };
        if !store::insert_message(&mut tx, &row).await? {
            return Ok(()); // stored by a concurrent delivery
        }
        store::note_incoming(&mut tx, &contact.id, sent_at).await?;
        store::touch_conversation(&mut tx, &conversation.id, now, true).await?;
        if created {
            landlord_events::record(
                &mut *tx,
                organization_id,
                &InboxConversationCreatedPayload {
                    organization_id: organization_id.clone(),
                    conversation_id: conversation.id.clone(),
                    channel_id: channel.id.clone(),
                    contact_id: contact.id.clone(),
                    number: conversation.number,
                },
            )
            .await?;
        }
        landlord_events::record(
            &mut *tx,
            organization_id,
            &InboxMessageReceivedPayload {
                organization_id: organization_id.clone(),
                channel_id: channel.id.clone(),
                conversation_id: conversation.id.clone(),
                contact_id: contact.id.clone(),
                message_id: row.id.clone(),
                kind: kind.as_str().to_string(),
                body,
                from: message.from.clone(),
            },
        )
        .await?;
        crate::live::record(
            &mut *tx,
            organization_id,
            "message.created",
            serde_json::json!({
                "conversation_id": conversation.id,
                "conversation_created": created,
                "message": crate::conversations::MessageView::new(row.clone()),
            }),
        )
        .await?;
        tx.commit().await?;
        self.live.wake(organization_id).await;
        Ok(())
    }

    /// Applies a status callback when it moves the message forward.
    async fn status(&self, channel: &ChannelRow, update: &StatusUpdate) -> anyhow::Result<()> {
        let Some(status) = MessageStatus::parse(&update.status).filter(|s| {
            matches!(
                s,
                MessageStatus::Sent
                    | MessageStatus::Delivered
                    | MessageStatus::Read
                    | MessageStatus::Failed
            )
        }) else {
            return Ok(());
        };
        let error = update.errors.first().map(|e| match &e.message {
            Some(m) => format!("{} ({}): {m}", e.title, e.code),
            None => format!("{} ({})", e.title, e.code),
        });
        let mut tx = self.db.begin().await?;
        let moved = store::advance_status(
            &mut tx,
            &channel.id,
            &update.id,
            status,
            error.as_deref(),
            Timestamp::now(),
        )
        .await?;
        let Some(message) = moved else {
            return Ok(()); // unknown, or not a step forward
        };
        landlord_events::record(
            &mut *tx,
            &message.organization_id,
            &InboxMessageStatusChangedPayload {
                organization_id: message.organization_id.clone(),
                conversation_id: message.conversation_id.clone(),
                message_id: message.id.clone(),
                status: status.as_str().to_string(),
                error: error.clone(),
            },
        )
        .await?;
        crate::live::record(
            &mut *tx,
            &message.organization_id,
            "message.status",
            serde_json::json!({
                "conversation_id": message.conversation_id,
                "message_id": message.id,
                "status": status,
                "error": error,
            }),
        )
        .await?;
        tx.commit().await?;
        self.live.wake(&message.organization_id).await;
        Ok(())
    }
}
