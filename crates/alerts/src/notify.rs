//! Sending a notification: one job per (transition, channel) — a mail in
//! the mail outbox for an email channel — so a channel
//! that fails is retried by the job queue and nothing is lost. The job
//! names its channel by position in the severity's configured list (the
//! secrets stay in the configuration, not in the queue).

use std::sync::Arc;
use std::time::Duration;

use crate::config::AlertChannel;
use anyhow::Context;
use landlord_core::ids::AlertEventId;
use landlord_core::{Config, Timestamp};
use landlord_jobs::{Attempt, JobHandler};
use landlord_mail::{Mail, Template};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::AlertsConfig;
use crate::store::{AlertHistoryStatus, Severity};

/// Kind of the job that sends one notification to one channel.
pub const NOTIFY_JOB: &str = "alerts.notify";

/// What a notification says (also the signed webhook's JSON body).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    /// The history entry (firing or resolved); the webhook's `webhook-id`.
    pub id: AlertEventId,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertHistoryStatus,
    pub value: f64,
    pub threshold: f64,
    pub at: Timestamp,
    /// Position of the channel in the severity's list.
    pub channel: usize,
}

impl Notification {
    pub fn payload(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// One line for people (mail subject, Slack text).
    pub fn summary(&self) -> String {
        let what = match self.status {
            AlertHistoryStatus::Firing => "FIRING",
            AlertHistoryStatus::Resolved => "RESOLVED",
        };
        format!(
            "[{}] {what}: {} (value {:.2}, threshold {:.2}) at {}",
            self.severity.as_str().to_uppercase(),
            self.rule,
            self.value,
            self.threshold,
            self.at.rfc3339()
        )
    }

    /// The mail of an email channel to `address`.
    pub fn mail(&self, address: &str) -> Mail {
        let what = match self.status {
            AlertHistoryStatus::Firing => "FIRING",
            AlertHistoryStatus::Resolved => "RESOLVED",
        };
        Mail {
            to: address.to_string(),
            template: Template::OperatorAlert,
            context: serde_json::json!({
                "alert_status": what,
                "rule": self.rule,
                "severity": self.severity,
                "value": format!("{:.2}", self.value),
                "threshold": format!("{:.2}", self.threshold),
                "at": self.at.rfc3339(),
            }),
        }
    }

    /// The body of the signed webhook.
    fn webhook_body(&self) -> Value {
        serde_json::json!({
            "type": format!("alert.{}", self.status.as_str()),
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "at": self.at,
        })
    }
}

/// Works `alerts.notify` jobs (the Slack and webhook channels; email
/// channels' mails are queued in the mail outbox directly).
pub struct NotifyJob {
    pub config: Arc<Config>,
    pub http: reqwest::Client,
}

impl NotifyJob {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the alerts' HTTP client")?;
        Ok(Self { config, http })
    }
}

#[async_trait::async_trait]
impl JobHandler for NotifyJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let notification: Notification =
            serde_json::from_value(payload.clone()).context("an alert notification's payload")?;
        let channels = self
            .config
            .section::<AlertsConfig>()
            .channels
            .of(notification.severity);
        let Some(channel) = channels.get(notification.channel) else {
            // The configuration changed since: the channel is gone.
            tracing::warn!(rule = %notification.rule, "an alert's channel is no longer configured");
            return Ok(());
        };
        let summary = notification.summary();
        match channel {
            // Queued as mails in the outbox when the transition was made.
            AlertChannel::Email { .. } => {}
            AlertChannel::Slack { url } => {
                let response = self
                    .http
                    .post(url.expose_str())
                    .json(&serde_json::json!({ "text": summary }))
                    .send()
                    .await
                    .context("posting an alert to Slack")?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "Slack answered {}",
                    response.status()
                );
            }
            AlertChannel::Webhook { url, secret } => {
                let body = serde_json::to_vec(&notification.webhook_body())?;
                let id = notification.id.to_string();
                let timestamp = Timestamp::now().millis() / 1000;
                let signature = landlord_core::webhook_signature::sign(
                    secret.expose_str(),
                    &id,
                    timestamp,
                    &body,
                )
                .context("the webhook channel's secret is not a whsec_ secret")?;
                let response = self
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("webhook-id", id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .context("posting an alert to a webhook")?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "the webhook answered {}",
                    response.status()
                );
            }
        }
        Ok(())
    }
}
