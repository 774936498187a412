//! Sending: a reply is metered against the plan's quota, stored as a
//! queued outgoing message and handed to an `inbox.send` job in one
//! transaction; the job calls the Graph API's
//! `POST /{phone-number-id}/messages` and records the provider's id.

use landlord_core::telemetry::SendTraced;
use std::time::Duration;

use crate::events::InboxMessageStatusChangedPayload;
use crate::ids::InboxMessageId;
use crate::InboxState;
use anyhow::Context;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{ApiError, Config, Db, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

use crate::channels;
use crate::config::InboxConfig;
use crate::conversations::MessageView;
use crate::store::{self, ConversationRow, Direction, MessageKind, MessageRow, MessageStatus};
use crate::whatsapp::{self, SendResponse, TemplateMessage};

/// Kind of the job that sends one outgoing message.
pub const SEND_JOB: &str = "inbox.send";

/// The route outgoing messages are metered under.
pub const METERED_ROUTE: &str = "/api/v1/inbox/conversations/{id}/messages";

/// What to send.
pub enum Outgoing {
    Text(String),
    /// The template and its approved body (shown in the thread).
    Template(TemplateMessage, String),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SendPayload {
    pub message_id: InboxMessageId,
}

/// Meters, stores and queues one outgoing message.
pub async fn queue(
    state: &InboxState,
    live: &crate::live::Live,
    user: &CurrentUser,
    conversation: &ConversationRow,
    outgoing: Outgoing,
) -> Result<MessageView, ApiError> {
    state
        .keys
        .meter_without_key(&user.organization_id, METERED_ROUTE)
        .await?;
    let now = Timestamp::now();
    let (kind, body, template) = match outgoing {
        Outgoing::Text(text) => (MessageKind::Text, text, None),
        Outgoing::Template(template, body) => (
            MessageKind::Template,
            body,
            Some(serde_json::to_string(&template).map_err(ApiError::internal)?),
        ),
    };
    let row = MessageRow {
        id: InboxMessageId::generate(),
        organization_id: user.organization_id.clone(),
        conversation_id: conversation.id.clone(),
        channel_id: conversation.channel_id.clone(),
        direction: Direction::Outgoing,
        kind,
        body,
        template,
        media: None,
        provider_message_id: None,
        status: MessageStatus::Queued,
        error: None,
        sent_by: Some(user.user_id.clone()),
        created_at: now,
        updated_at: now,
    };
    let job = NewJob::new(
        SEND_JOB,
        serde_json::to_value(SendPayload {
            message_id: row.id.clone(),
        })
        .map_err(ApiError::internal)?,
    );
    let mut tx = state.db.begin().await?;
    store::insert_message(&mut tx, &row).await?;
    store::touch_conversation(&mut tx, &conversation.id, now, false).await?;
    landlord_jobs::enqueue(&mut *tx, job).await?;
    crate::live::record(
        &mut *tx,
        &user.organization_id,
        "message.created",
        serde_json::json!({
            "conversation_id": conversation.id,
            "conversation_created": false,
            "message": MessageView::new(row.clone()),
        }),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    live.wake(&user.organization_id).await;
    Ok(MessageView::new(row))
}

/// Works `inbox.send` jobs.
pub struct SendMessage {
    pub db: Db,
    pub live: crate::live::Live,
    pub config: Arc<Config>,
    pub cipher: PayloadCipher,
    pub http: reqwest::Client,
    /// Every send's outcome per channel, for integration health.
    pub calls: landlord_core::calls::CallCounts,
}

impl SendMessage {
    pub fn new(
        db: Db,
        live: crate::live::Live,
        config: Arc<Config>,
        cipher: PayloadCipher,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the inbox's HTTP client")?;
        let calls = landlord_core::calls::CallCounts::of(&config);
        Ok(Self {
            db,
            live,
            config,
            cipher,
            http,
            calls,
        })
    }
}

#[async_trait::async_trait]
impl JobHandler for SendMessage {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let payload: SendPayload =
            serde_json::from_value(payload.clone()).context("a send job's payload")?;
        let Some(message) = store::message_by_id(self.db.pool(), &payload.message_id).await? else {
            return Ok(());
        };
        if message.status != MessageStatus::Queued {
            return Ok(()); // sent by an earlier attempt
        }
        let conversation = store::conversation(
            self.db.pool(),
            &message.organization_id,
            &message.conversation_id,
        )
        .await?
        .context("the message's conversation")?;
        let contact = store::contact(
            self.db.pool(),
            &message.organization_id,
            &conversation.contact_id,
        )
        .await?
        .context("the conversation's contact")?;
        let Some(channel) = store::channel_by_id(self.db.pool(), &message.channel_id).await? else {
            return Ok(());
        };
        let token = channels::open(
            &self.cipher,
            &channel.id,
            "access_token",
            &channel.access_token_sealed,
        )?;
        let body = match (&message.kind, message.template.as_deref()) {
            (MessageKind::Template, Some(template)) => {
                let template: TemplateMessage = serde_json::from_str(template)?;
                whatsapp::template_request(&contact.wa_id, &template)
            }
            _ => whatsapp::text_request(&contact.wa_id, &message.body),
        };
        let url = self
            .config
            .section::<InboxConfig>()
            .messages_url(&channel.phone_number_id);
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send_traced("whatsapp")
            .await;
        self.calls.record(
            &crate::graph::integration_name(&channel.id),
            match &response {
                Ok(answer) => !landlord_core::calls::failed_status(answer.status().as_u16()),
                Err(_) => false,
            },
        );
        let outcome = match response {
            Ok(response) if response.status().is_success() => {
                let sent: SendResponse = response.json().await.context("the Graph API's answer")?;
                let id = sent
                    .messages
                    .first()
                    .map(|m| m.id.clone())
                    .context("the Graph API's answer names no message id")?;
                Ok(id)
            }
            // A refusal (bad number, expired token, unknown template) will
            // not change on a retry. The agent reads Meta's own words; the
            // whole answer goes to the log.
            Ok(response)
                if response.status().is_client_error() && response.status().as_u16() != 429 =>
            {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let answer: String = text.chars().take(500).collect();
                tracing::warn!(message_id = %message.id, %status, %answer, "WhatsApp refused a message");
                Err(refusal_sentence(status, &text))
            }
            Ok(response) => {
                let failure = format!("the Graph API answered {}", response.status());
                if !attempt.last {
                    anyhow::bail!(failure);
                }
                tracing::warn!(message_id = %message.id, %failure, "a message failed after its last attempt");
                Err(GAVE_UP.to_string())
            }
            Err(error) => {
                if !attempt.last {
                    return Err(error).context("calling the Graph API");
                }
                tracing::warn!(message_id = %message.id, %error, "a message failed after its last attempt: the Graph API could not be reached");
                Err(GAVE_UP.to_string())
            }
        };
        let now = Timestamp::now();
        let mut tx = self.db.begin().await?;
        let (moved, status, error) = match outcome {
            Ok(provider_id) => (
                store::mark_sent(&mut tx, &message.id, &provider_id, now).await?,
                MessageStatus::Sent,
                None,
            ),
            Err(error) => (
                store::mark_failed(&mut tx, &message.id, &error, now).await?,
                MessageStatus::Failed,
                Some(error),
            ),
        };
        if moved {
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
        }
        tx.commit().await?;
        self.live.wake(&message.organization_id).await;
        Ok(())
    }
}

/// Why a message failed when WhatsApp could not be reached or kept failing
/// until the last attempt: a sentence for the agent (the log has the rest).
const GAVE_UP: &str =
    "WhatsApp could not be reached after several attempts, so the message was not sent. Send it again later.";

/// Why a message WhatsApp refused failed: Meta's own words when its answer
/// has them, else the HTTP status — never a URL or a transport error.
fn refusal_sentence(status: reqwest::StatusCode, answer: &str) -> String {
    let words = serde_json::from_str::<crate::whatsapp::GraphErrorAnswer>(answer)
        .map(|answer| answer.error.words())
        .ok()
        .filter(|words| !words.is_empty());
    match words {
        Some(words) => format!(
            "WhatsApp refused the message ({}): {words}",
            status.as_u16()
        ),
        None => format!("WhatsApp refused the message ({}).", status.as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_metas_words_and_never_the_raw_answer() {
        let answer = r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100,"error_data":{"messaging_product":"whatsapp","details":"The parameter to is required."},"fbtrace_id":"A"}}"#;
        assert_eq!(
            refusal_sentence(reqwest::StatusCode::BAD_REQUEST, answer),
            "WhatsApp refused the message (400): The parameter to is required."
        );
        let sentence = refusal_sentence(
            reqwest::StatusCode::NOT_FOUND,
            "<html>Not Found at http://x</html>",
        );
        assert_eq!(sentence, "WhatsApp refused the message (404).");
    }
}
