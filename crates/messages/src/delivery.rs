//! Delivering queued messages, as a job.
//!
//! A message is handed to its provider once: the job first claims it
//! (compare-and-set on `queued`, no provider id, no live claim), so a job
//! that runs twice — retried after a lost answer, or run by two workers
//! at once — finds it claimed or handed over and sends nothing. The claim
//! lapses after [`CLAIM`] so that a delivery cut off by a crash is taken
//! over; Twilio's status callback carries the message's id, so a
//! hand-over whose answer was lost but whose callback arrived is not
//! repeated either.

use std::sync::Arc;
use std::time::Duration;

use landlord_core::ids::{MessageId, OrganizationId};
use landlord_core::{Db, Timestamp};
use landlord_events::payloads::{MessageFailedPayload, MessageSentPayload};
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::suppression::{self, SuppressionReason};
use landlord_mail::{Handover as MailHandover, MailError, Mailer};
use serde_json::Value;
use sqlx::AnyConnection;

use crate::sms::{OutgoingSms, SmsError, SmsOutcome, SmsProvider};
use crate::store::{self, Channel, Delivery, Handover, MessageStatus};

pub const DELIVER_JOB: &str = "message.deliver";

/// How long a delivery holds its message while handing it over: well past
/// the longest call (Twilio 20 s, SMTP 15 s per step), so a live delivery
/// is never taken over, and a dead one is within minutes.
pub const CLAIM: Duration = Duration::from_secs(120);

/// The job that delivers one message.
pub struct DeliverMessage {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    /// `None`: SMS is not offered (no provider outside development).
    pub sms: Option<Arc<dyn SmsProvider>>,
}

/// What a provider did with a message.
struct Handed {
    status: MessageStatus,
    provider: &'static str,
    provider_message_id: Option<String>,
    failure_reason: Option<String>,
}

/// Why a message was not handed over.
enum NotHanded {
    /// Another attempt would fail the same way: the message fails now.
    Refused(String),
    /// Worth another attempt (until the last).
    Unavailable(anyhow::Error),
}

impl DeliverMessage {
    async fn hand_over(&self, id: &MessageId, message: &Delivery) -> Result<Handed, NotHanded> {
        match message.channel {
            Channel::Email => {
                // An address on the suppression list (it bounced for good,
                // or complained) is not mailed: the message fails at once.
                match suppression::is_suppressed(&self.db, &message.recipient).await {
                    Ok(false) => {}
                    Ok(true) => {
                        return Err(NotHanded::Refused(
                            "the address is on the mail suppression list (it bounced or \
                             complained); an operator can lift it"
                                .into(),
                        ))
                    }
                    Err(error) => return Err(NotHanded::Unavailable(error.into())),
                }
                let handover = self
                    .mailer
                    .send_plain(
                        &message.recipient,
                        message.subject.as_deref().unwrap_or(""),
                        &message.body,
                    )
                    .await;
                match handover {
                    Ok(MailHandover::Smtp) => Ok(Handed {
                        status: MessageStatus::Sent,
                        provider: "smtp",
                        provider_message_id: None,
                        failure_reason: None,
                    }),
                    Ok(MailHandover::Outbox(path)) => Ok(Handed {
                        status: MessageStatus::Simulated,
                        provider: "outbox",
                        provider_message_id: path
                            .file_name()
                            .map(|name| name.to_string_lossy().into_owned()),
                        failure_reason: None,
                    }),
                    Err(error @ (MailError::Address { .. } | MailError::Build(_))) => {
                        Err(NotHanded::Refused(error.to_string()))
                    }
                    // The SMTP server refused the recipient for good: the
                    // address is suppressed, as for every other mail.
                    Err(MailError::Refused {
                        code,
                        message: refusal,
                    }) => {
                        if let Err(error) = suppression::suppress(
                            &self.db,
                            &message.recipient,
                            SuppressionReason::SmtpPermanent,
                            code,
                            Some(refusal.clone()),
                            "smtp",
                        )
                        .await
                        {
                            return Err(NotHanded::Unavailable(error.into()));
                        }
                        Err(NotHanded::Refused(format!(
                            "the SMTP server refused the address: {refusal}"
                        )))
                    }
                    Err(error) => Err(NotHanded::Unavailable(error.into())),
                }
            }
            Channel::Sms => {
                let Some(provider) = self.sms.as_ref() else {
                    return Err(NotHanded::Refused(
                        "no SMS provider is configured on this server".into(),
                    ));
                };
                let outcome = provider
                    .send(OutgoingSms {
                        message_id: id,
                        to: &message.recipient,
                        body: &message.body,
                    })
                    .await;
                match outcome {
                    Ok(SmsOutcome::Sent {
                        provider_message_id,
                    }) => Ok(Handed {
                        status: MessageStatus::Sent,
                        provider: provider.name(),
                        provider_message_id: Some(provider_message_id),
                        failure_reason: None,
                    }),
                    Ok(SmsOutcome::Failed {
                        provider_message_id,
                        reason,
                    }) => Ok(Handed {
                        status: MessageStatus::Failed,
                        provider: provider.name(),
                        provider_message_id: Some(provider_message_id),
                        failure_reason: Some(reason),
                    }),
                    Ok(SmsOutcome::Simulated { reference }) => Ok(Handed {
                        status: MessageStatus::Simulated,
                        provider: provider.name(),
                        provider_message_id: Some(reference),
                        failure_reason: None,
                    }),
                    Err(SmsError::Refused(reason)) => Err(NotHanded::Refused(reason)),
                    Err(SmsError::Unavailable(error)) => Err(NotHanded::Unavailable(error)),
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for DeliverMessage {
    async fn handle(&self, payload: &Value, attempt: Attempt) -> anyhow::Result<()> {
        let id = payload
            .get("message_id")
            .and_then(Value::as_str)
            .map(MessageId::from_trusted)
            .ok_or_else(|| anyhow::anyhow!("payload without message_id"))?;
        let now = Timestamp::now();
        let claimed = store::claim_for_delivery(self.db.pool(), &id, now, now.plus(CLAIM)).await?;
        let Some(message) = claimed else {
            return match store::status_of(self.db.pool(), &id).await? {
                None => Err(anyhow::anyhow!("message {id} does not exist")),
                // Claimed by a delivery still running: look again later
                // (it will have been handed over, or the claim lapsed).
                Some((MessageStatus::Queued, None)) => Err(anyhow::anyhow!(
                    "message {id} is being handed over by another delivery"
                )),
                // Handed over already: never twice.
                Some(_) => Ok(()),
            };
        };
        let handed = self.hand_over(&id, &message).await;
        let now = Timestamp::now();
        let mut tx = self.db.begin().await?;
        let result = match handed {
            Ok(handed) => {
                let moved = store::record_handover(
                    &mut *tx,
                    &id,
                    Handover {
                        status: handed.status,
                        provider: handed.provider,
                        provider_message_id: handed.provider_message_id.as_deref(),
                        failure_reason: handed.failure_reason.as_deref(),
                    },
                    now,
                )
                .await?;
                if moved {
                    record_event(
                        &mut tx,
                        &message.organization_id,
                        &id,
                        &message,
                        handed.status,
                        handed.failure_reason,
                    )
                    .await?;
                } else if let Some(provider_id) = handed.provider_message_id.as_deref() {
                    // A status callback came first and moved it further.
                    store::fill_in_provider(&mut *tx, &id, handed.provider, provider_id, now)
                        .await?;
                }
                Ok(())
            }
            Err(NotHanded::Refused(reason)) => {
                if store::mark_attempt_failed(&mut *tx, &id, MessageStatus::Failed, &reason, now)
                    .await?
                {
                    record_event(
                        &mut tx,
                        &message.organization_id,
                        &id,
                        &message,
                        MessageStatus::Failed,
                        Some(reason),
                    )
                    .await?;
                }
                // Settled: nothing for a retry to do.
                Ok(())
            }
            Err(NotHanded::Unavailable(error)) => {
                // Keep the reason visible while retrying; settle on the last attempt.
                let status = if attempt.last {
                    MessageStatus::Failed
                } else {
                    MessageStatus::Queued
                };
                let reason = format!("{error:#}");
                let moved = store::mark_attempt_failed(&mut *tx, &id, status, &reason, now).await?;
                if moved && status == MessageStatus::Failed {
                    record_event(
                        &mut tx,
                        &message.organization_id,
                        &id,
                        &message,
                        MessageStatus::Failed,
                        Some(reason),
                    )
                    .await?;
                }
                Err(error)
            }
        };
        tx.commit().await?;
        result
    }
}

/// The event of a message reaching `status`: `message.sent` when it
/// leaves `queued` for `sent` or `delivered`, `message.failed` when it
/// fails; nothing for `simulated` (nobody received it, and nothing was
/// sent) or for `sent` → `delivered`.
pub(crate) async fn record_event(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    id: &MessageId,
    message: &impl EventSubject,
    status: MessageStatus,
    reason: Option<String>,
) -> Result<(), sqlx::Error> {
    match status {
        MessageStatus::Sent | MessageStatus::Delivered => {
            landlord_events::record(
                &mut *conn,
                organization_id,
                &MessageSentPayload {
                    organization_id: organization_id.clone(),
                    message_id: id.clone(),
                    channel: message.channel().as_str().to_string(),
                    to: message.recipient().to_string(),
                },
            )
            .await?;
        }
        MessageStatus::Failed => {
            landlord_events::record(
                &mut *conn,
                organization_id,
                &MessageFailedPayload {
                    organization_id: organization_id.clone(),
                    message_id: id.clone(),
                    channel: message.channel().as_str().to_string(),
                    to: message.recipient().to_string(),
                    reason,
                },
            )
            .await?;
        }
        MessageStatus::Queued | MessageStatus::Simulated => {}
    }
    Ok(())
}

/// What an event says of its message.
pub(crate) trait EventSubject {
    fn channel(&self) -> Channel;
    fn recipient(&self) -> &str;
}

impl EventSubject for Delivery {
    fn channel(&self) -> Channel {
        self.channel
    }
    fn recipient(&self) -> &str {
        &self.recipient
    }
}

impl EventSubject for store::CallbackTarget {
    fn channel(&self) -> Channel {
        self.channel
    }
    fn recipient(&self) -> &str {
        &self.recipient
    }
}
