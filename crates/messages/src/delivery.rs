//! Delivering queued messages, as a job.

use std::path::PathBuf;
use std::sync::Arc;

use landlord_core::db::now_millis;
use landlord_core::Db;
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::Mailer;
use serde_json::Value;

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

#[derive(sqlx::FromRow)]
struct MessageRow {
    channel: String,
    recipient: String,
    subject: Option<String>,
    body: String,
    status: String,
}

#[async_trait::async_trait]
impl JobHandler for DeliverMessage {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let id = payload
            .get("message_id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow::anyhow!("payload without message_id"))?;
        let Some(message) = sqlx::query_as::<_, MessageRow>(
            "SELECT channel, recipient, subject, body, status FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            anyhow::bail!("message {id} does not exist");
        };
        if message.status != "queued" {
            return Ok(()); // already delivered (a retried job after a crash)
        }
        let sent = match message.channel.as_str() {
            "email" => self
                .mailer
                .send_plain(
                    &message.recipient,
                    message.subject.as_deref().unwrap_or(""),
                    &message.body,
                )
                .await
                .map_err(anyhow::Error::from),
            "sms" => self
                .sms
                .send(&message.recipient, &message.body)
                .await
                .map(|_| ()),
            other => Err(anyhow::anyhow!("unknown channel {other}")),
        };
        let now = now_millis();
        match sent {
            Ok(()) => {
                sqlx::query("UPDATE messages SET status = 'sent', sent_at = $2, updated_at = $2, failure_reason = NULL WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(self.db.pool())
                    .await?;
                Ok(())
            }
            Err(error) => {
                // Keep the reason visible while retrying; settle on the last attempt.
                let status = if attempt.last { "failed" } else { "queued" };
                sqlx::query("UPDATE messages SET status = $2, failure_reason = $3, updated_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(status)
                    .bind(format!("{error:#}"))
                    .bind(now)
                    .execute(self.db.pool())
                    .await?;
                Err(error)
            }
        }
    }
}
