//! Delivering queued messages, as a job.

use std::path::PathBuf;
use std::sync::Arc;

use landlord_core::ids::MessageId;
use landlord_core::{Db, Timestamp};
use landlord_events::payloads::{MessageFailedPayload, MessageSentPayload};
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::Mailer;
use serde_json::Value;

use crate::store::{self, Channel, MessageStatus};

pub const DELIVER_JOB: &str = "message.deliver";

/// Sends SMS. Implement it for a real provider; the default writes files.
#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// Sends `body` to `to` (E.164); returns the provider's message id.
    async fn send(&self, to: &str, body: &str) -> anyhow::Result<String>;
}

/// Writes each SMS as a file in `data_dir/sms`, for trying things out.
pub struct FileSmsProvider {
    pub dir: PathBuf,
}

#[async_trait::async_trait]
impl SmsProvider for FileSmsProvider {
    async fn send(&self, to: &str, body: &str) -> anyhow::Result<String> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let id = uuid::Uuid::now_v7().to_string();
        tokio::fs::write(
            self.dir.join(format!("{id}.txt")),
            format!("To: {to}\n\n{body}\n"),
        )
        .await?;
        tracing::info!(
            to,
            id,
            "no SMS provider configured: message written to a file"
        );
        Ok(id)
    }
}

/// The job that delivers one message.
pub struct DeliverMessage {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub sms: Arc<dyn SmsProvider>,
}

#[async_trait::async_trait]
impl JobHandler for DeliverMessage {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let id = payload
            .get("message_id")
            .and_then(Value::as_str)
            .map(MessageId::from_trusted)
            .ok_or_else(|| anyhow::anyhow!("payload without message_id"))?;
        let Some(message) = store::for_delivery(self.db.pool(), &id).await? else {
            anyhow::bail!("message {id} does not exist");
        };
        if message.status != MessageStatus::Queued {
            return Ok(()); // already delivered (a retried job after a crash)
        }
        let sent = match message.channel {
            Channel::Email => self
                .mailer
                .send_plain(
                    &message.recipient,
                    message.subject.as_deref().unwrap_or(""),
                    &message.body,
                )
                .await
                .map_err(anyhow::Error::from),
            Channel::Sms => self
                .sms
                .send(&message.recipient, &message.body)
                .await
                .map(|_| ()),
        };
        let now = Timestamp::now();
        match sent {
            Ok(()) => {
                let mut tx = self.db.begin().await?;
                store::mark_sent(&mut *tx, &id, now).await?;
                landlord_events::record(
                    &mut *tx,
                    &message.organization_id,
                    &MessageSentPayload {
                        organization_id: message.organization_id.clone(),
                        message_id: id.clone(),
                        channel: message.channel.as_str().to_string(),
                        to: message.recipient.clone(),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }
            Err(error) => {
                // Keep the reason visible while retrying; settle on the last attempt.
                let status = if attempt.last {
                    MessageStatus::Failed
                } else {
                    MessageStatus::Queued
                };
                let reason = format!("{error:#}");
                let mut tx = self.db.begin().await?;
                store::mark_attempt_failed(&mut *tx, &id, status, &reason, now).await?;
                if status == MessageStatus::Failed {
                    landlord_events::record(
                        &mut *tx,
                        &message.organization_id,
                        &MessageFailedPayload {
                            organization_id: message.organization_id.clone(),
                            message_id: id.clone(),
                            channel: message.channel.as_str().to_string(),
                            to: message.recipient.clone(),
                            reason: Some(reason),
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
                Err(error)
            }
        }
    }
}
