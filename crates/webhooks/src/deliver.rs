//! Delivering one message to one endpoint, the Standard Webhooks way.
//!
//! Each attempt is a `webhooks.deliver` job carrying the delivery and its
//! `seq`. The job locks the delivery ([`store::claim`]), so two attempts of
//! one (message, endpoint) are never in flight together, whatever the
//! number of instances. The lock is as short as a job's lease
//! (`jobs_lease_secs`) and renewed while the attempt runs, so a crash
//! leaves it to lapse within that time, when the job queue hands the job
//! out again. The attempt is logged `in_flight` before its request is
//! sent; the next claim marks an attempt a dead instance left so
//! `interrupted`. When it ends the attempt is recorded, and in the same
//! transaction the delivery moves on: delivered, a retry queued as a job
//! at the schedule's next time, or failed for good.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

use crate::config::WebhooksConfig;
use anyhow::Context;
use futures::StreamExt;
use landlord_core::ids::{OrganizationId, WebhookAttemptId, WebhookDeliveryId};
use landlord_core::lease::{renewal_period, Heartbeat};
use landlord_core::sealed::PayloadCipher;
use landlord_core::{Config, Db, Timestamp};
use landlord_events::store::EventRow;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use landlord_mail::{Mail, Template};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::address::{self, GuardedResolver};
use crate::endpoint;
use crate::store::{
    self, AttemptCause, AttemptOutcome, AttemptRow, Claim, DeliveryRow, EndpointRow, Finished, Step,
};

/// Kind of the job that makes one attempt of one delivery.
pub const DELIVER_JOB: &str = "webhooks.deliver";

/// How long the attempt log keeps an attempt (the daily purge).
pub const ATTEMPT_LOG_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most bytes of an answer kept in the attempt log.
pub const EXCERPT_BYTES: usize = 4096;

/// The longest `Retry-After` honoured (a day): beyond it the schedule's
/// own delay applies.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A deliver job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverPayload {
    pub delivery_id: WebhookDeliveryId,
    pub seq: i64,
    pub cause: AttemptCause,
}

/// The job of the next attempt of `delivery_id`, at `run_at` (now when
/// `None`).
pub fn job(payload: &DeliverPayload, run_at: Option<Timestamp>) -> NewJob {
    let mut job = NewJob::new(
        DELIVER_JOB,
        serde_json::to_value(payload).unwrap_or(Value::Null),
    );
    job.run_at = run_at;
    // The job fails only when the database does, or while another attempt
    // is in flight: worth many tries before an operator looks.
    job.max_attempts = Some(20);
    job
}

/// The wait before the retry that follows attempt number `attempts_made`
/// (1 for the first), or `None` when the schedule is used up. `spread` in
/// [-1, 1] picks the jitter; a longer `Retry-After` (up to a day) wins.
pub fn retry_delay(
    config: &WebhooksConfig,
    attempts_made: usize,
    spread: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *config.retry_delays_ms.get(attempts_made.checked_sub(1)?)?;
    let jitter = f64::from(config.jitter_percent) / 100.0 * spread.clamp(-1.0, 1.0);
    let jittered = Duration::from_millis((base as f64 * (1.0 + jitter)).max(0.0) as u64);
    Some(match retry_after {
        Some(asked) if asked > jittered && asked <= MAX_RETRY_AFTER => asked,
        _ => jittered,
    })
}

/// The body a receiver gets: Standard Webhooks' `type`, `timestamp` and
/// `data`, with the event's id and the payload's version.
pub fn message_body(event: &EventRow) -> Vec<u8> {
    let data: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    let body = serde_json::json!({
        "id": event.id,
        "type": event.event_type,
        "version": event.version,
        "timestamp": event.created_at,
        "data": data,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The `webhook-signature` value: one `v1,…` per valid secret,
/// space-separated (two during a rotation's overlap).
pub fn signature_header(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| landlord_core::webhook_signature::sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The secrets that sign now: the current one, and the previous one
/// while its overlap lasts.
pub fn signing_secrets(
    cipher: &PayloadCipher,
    row: &EndpointRow,
    now: Timestamp,
) -> anyhow::Result<Vec<String>> {
    let mut secrets = vec![endpoint::open(cipher, &row.id, &row.secret_sealed)
        .context("opening an endpoint's secret")?];
    if let (Some(previous), Some(until)) = (&row.previous_secret_sealed, row.previous_secret_until)
    {
        if until > now {
            secrets.push(
                endpoint::open(cipher, &row.id, previous)
                    .context("opening an endpoint's previous secret")?,
            );
        }
    }
    Ok(secrets)
}

/// What one attempt came back with.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub excerpt: String,
    /// Why no answer came (timeout, refused address, connection error).
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The HTTP client of deliveries: the configured timeout, no redirects
/// (a 3xx is a failure), no proxy from the environment, and names
/// resolved through [`GuardedResolver`].
pub fn client(config: &WebhooksConfig) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .connect_timeout(Duration::from_millis(config.timeout_ms.min(10_000)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Landlord-Webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.allow_private_addresses,
        }))
        .build()
        .context("the webhooks' HTTP client")
}

/// Sends `body` to `url` signed as message `id` and reads at most
/// [`EXCERPT_BYTES`] of the answer.
pub async fn send(
    http: &reqwest::Client,
    config: &WebhooksConfig,
    url: &str,
    id: &str,
    secrets: &[String],
    body: Vec<u8>,
) -> Outcome {
    let started = Instant::now();
    let refused = |error: String| Outcome {
        duration: started.elapsed(),
        error: Some(error),
        ..Outcome::default()
    };
    // The URL was checked when saved; checked again here, for IP literals
    // and ports (names are checked by the resolver as the connection is
    // made).
    let parsed = match address::parse(url, config.allow_http) {
        Ok(parsed) => parsed,
        Err(refusal) => return refused(format!("the URL {refusal}")),
    };
    if let Err(refusal) = address::check_target(&parsed, config) {
        return refused(format!("the URL {refusal}"));
    }
    let timestamp = Timestamp::now().millis() / 1000;
    // Exported traces: the delivery is a client span, and the receiver
    // gets its `traceparent` (nothing is created when traces are off).
    let span = if landlord_core::telemetry::traces_enabled() {
        tracing::info_span!(
            "webhook delivery",
            otel.name = "POST webhook",
            otel.kind = "client",
            http.request.method = "POST",
            server.address = parsed.host_str().unwrap_or(""),
            webhook.id = id,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    } else {
        tracing::Span::none()
    };
    let trace_headers = span.in_scope(landlord_core::telemetry::trace_headers);
    let mut request = http.post(parsed);
    for (name, value) in trace_headers {
        request = request.header(name, value);
    }
    let response = request
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature_header(secrets, id, timestamp, &body),
        )
        .body(body)
        .send()
        .instrument(span.clone())
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            span.record("otel.status_code", "ERROR");
            return refused(describe(&error));
        }
    };
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if status >= 400 {
        span.record("otel.status_code", "ERROR");
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut excerpt = Vec::new();
    let mut stream = response.bytes_stream();
    let mut error = None;
    while excerpt.len() < EXCERPT_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => {
                let room = EXCERPT_BYTES - excerpt.len();
                excerpt.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Some(Err(e)) => {
                error = Some(describe(&e));
                break;
            }
            None => break,
        }
    }
    Outcome {
        status_code: Some(status),
        duration: started.elapsed(),
        excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
        error,
        retry_after,
    }
}

/// A transport error in words, with its causes (the resolver's refusal
/// is one of them).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

/// Works `webhooks.deliver` jobs.
pub struct DeliverJob {
    pub db: Db,
    pub config: Arc<Config>,
    pub cipher: PayloadCipher,
    pub http: reqwest::Client,
}

impl DeliverJob {
    pub fn new(db: Db, config: Arc<Config>, cipher: PayloadCipher) -> anyhow::Result<Self> {
        let http = client(config.section::<WebhooksConfig>())?;
        Ok(Self {
            db,
            config,
            cipher,
            http,
        })
    }
}

#[async_trait::async_trait]
impl JobHandler for DeliverJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let payload: DeliverPayload =
            serde_json::from_value(payload.clone()).context("a delivery job's payload")?;
        let now = Timestamp::now();
        // The attempt's id is its lock's token.
        let attempt_id = WebhookAttemptId::generate();
        let mut tx = self.db.begin().await?;
        let delivery = match store::claim(
            &mut tx,
            &payload.delivery_id,
            payload.seq,
            now,
            now.plus(self.lease()),
            &attempt_id,
        )
        .await?
        {
            Claim::Claimed(delivery) => delivery,
            Claim::Stale => return Ok(()),
            Claim::InFlight => anyhow::bail!("another attempt of this delivery is in flight"),
        };
        tx.commit().await?;
        self.attempt(delivery, attempt_id, payload).await
    }
}

impl DeliverJob {
    /// How long a delivery's lock holds without a renewal: a job's lease.
    fn lease(&self) -> Duration {
        Duration::from_secs(self.config.jobs_lease_secs)
    }

    /// Renews the delivery's lock while its attempt runs.
    fn heartbeat(&self, delivery: &WebhookDeliveryId, attempt_id: &WebhookAttemptId) -> Heartbeat {
        let db = self.db.clone();
        let (delivery, attempt_id) = (delivery.clone(), attempt_id.clone());
        let lease = self.lease();
        Heartbeat::start(renewal_period(lease), move || {
            let (db, delivery, attempt_id) = (db.clone(), delivery.clone(), attempt_id.clone());
            async move {
                let until = Timestamp::now().plus(lease);
                match store::renew_lock(db.pool(), &delivery, &attempt_id, until).await {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::warn!(%delivery, "lost the lock of a webhook delivery in flight");
                        false
                    }
                    Err(error) => {
                        tracing::warn!(%delivery, %error, "cannot renew a webhook delivery's lock");
                        true
                    }
                }
            }
        })
    }

    async fn attempt(
        &self,
        delivery: DeliveryRow,
        attempt_id: WebhookAttemptId,
        payload: DeliverPayload,
    ) -> anyhow::Result<()> {
        let endpoint = store::endpoint(
            self.db.pool(),
            &delivery.organization_id,
            &delivery.endpoint_id,
        )
        .await?;
        let event = landlord_events::store::event(
            self.db.pool(),
            &delivery.organization_id,
            &delivery.event_id,
        )
        .await?;
        let (Some(endpoint), Some(event)) = (endpoint, event) else {
            // Deleted meanwhile (the delivery went with it, or will).
            return Ok(());
        };
        if endpoint.enabled == 0 {
            let mut conn = self.db.pool().acquire().await?;
            store::abandon(&mut conn, &delivery.id, Timestamp::now()).await?;
            return Ok(());
        }
        let secrets = signing_secrets(&self.cipher, &endpoint, Timestamp::now())?;
        // Logged before the request leaves: if this instance dies now, the
        // next attempt finds it and marks it interrupted.
        store::insert_attempt(
            self.db.pool(),
            &AttemptRow {
                id: attempt_id.clone(),
                organization_id: delivery.organization_id.clone(),
                endpoint_id: endpoint.id.clone(),
                delivery_id: delivery.id.clone(),
                event_id: event.id.clone(),
                event_type: event.event_type.as_str().to_string(),
                attempt: delivery.attempts + 1,
                cause: payload.cause,
                succeeded: 0,
                status_code: None,
                duration_ms: 0,
                response_excerpt: String::new(),
                error: None,
                attempted_at: Timestamp::now(),
                outcome: AttemptOutcome::InFlight,
            },
        )
        .await?;
        let heartbeat = self.heartbeat(&delivery.id, &attempt_id);
        let outcome = send(
            &self.http,
            self.config.section::<WebhooksConfig>(),
            &endpoint.url,
            event.id.as_str(),
            &secrets,
            message_body(&event),
        )
        .await;
        drop(heartbeat);
        self.record(&delivery, &attempt_id, &endpoint, payload, outcome)
            .await
    }

    /// Records the attempt and moves the delivery (and the endpoint's
    /// failure streak) on, in one transaction.
    async fn record(
        &self,
        delivery: &DeliveryRow,
        attempt_id: &WebhookAttemptId,
        endpoint: &EndpointRow,
        payload: DeliverPayload,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        let now = Timestamp::now();
        let attempt_number = delivery.attempts + 1;
        let succeeded = outcome.succeeded();
        let mut tx = self.db.begin().await?;
        let completed = store::complete_attempt(
            &mut *tx,
            attempt_id,
            succeeded,
            outcome.status_code.map(i64::from),
            outcome.duration.as_millis() as i64,
            &outcome.excerpt,
            outcome.error.as_deref(),
        )
        .await?;
        if !completed {
            // This attempt outlived its lock and a later one took the
            // delivery over (and logged this one interrupted): the delivery
            // is that attempt's to move on.
            tracing::warn!(delivery = %delivery.id, succeeded, "a webhook attempt ended after its lock was taken over; its outcome is not recorded");
            return Ok(());
        }
        let mut disabled = None;
        let step = if succeeded {
            store::endpoint_succeeded(&mut *tx, &endpoint.id).await?;
            Step::Succeeded
        } else {
            let failing_since = store::endpoint_failed(&mut *tx, &endpoint.id, now)
                .await?
                .unwrap_or(now);
            let sustained = now.since(failing_since)
                >= Duration::from_millis(
                    self.config
                        .section::<WebhooksConfig>()
                        .disable_after_failing_ms,
                );
            if outcome.status_code == Some(410) {
                disabled = Some("the endpoint answered 410 Gone".to_string());
                Step::Failed
            } else if sustained {
                disabled = Some(format!(
                    "every attempt failed since {}",
                    failing_since.rfc3339()
                ));
                Step::Failed
            } else {
                let spread = rand::thread_rng().gen_range(-1.0..=1.0);
                match retry_delay(
                    self.config.section::<WebhooksConfig>(),
                    attempt_number as usize,
                    spread,
                    outcome.retry_after,
                ) {
                    Some(delay) => Step::RetryAt(now.plus(delay)),
                    None => Step::Failed,
                }
            }
        };
        let finished =
            store::finish(&mut tx, &delivery.id, payload.seq, attempt_id, step, now).await?;
        if finished == Finished::Lost {
            tracing::warn!(delivery = %delivery.id, succeeded, "a webhook attempt ended after its lock was taken over; its outcome is not recorded");
            return Ok(());
        }
        if let (Finished::Applied, Step::RetryAt(at)) = (finished, step) {
            let next = DeliverPayload {
                cause: AttemptCause::Scheduled,
                ..payload
            };
            landlord_jobs::enqueue(&mut *tx, job(&next, Some(at))).await?;
        }
        if let Some(reason) = disabled {
            if store::disable_endpoint(&mut *tx, &endpoint.id, &reason).await? {
                self.tell_owners(&mut tx, &delivery.organization_id, endpoint, &reason)
                    .await?;
                tracing::warn!(endpoint = %endpoint.id, %reason, "a webhook endpoint was disabled");
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Mails the organization's owners that `endpoint` was disabled.
    async fn tell_owners(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        organization_id: &OrganizationId,
        endpoint: &EndpointRow,
        reason: &str,
    ) -> anyhow::Result<()> {
        let organization = landlord_identity::store::organization_by_id(&mut **tx, organization_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let owners = landlord_identity::store::owner_emails(&mut **tx, organization_id).await?;
        let mails: Vec<Mail> = owners
            .into_iter()
            .map(|to| Mail {
                to,
                template: Template::WebhookEndpointDisabled,
                context: serde_json::json!({
                    "organization_name": organization,
                    "url": endpoint.url,
                    "reason": reason,
                    "link": format!(
                        "{}/o/{}/webhooks/{}",
                        self.config.app_url(),
                        organization_id,
                        endpoint.id
                    ),
                }),
            })
            .collect();
        landlord_mail::queue_many(tx, &mails).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_followed_with_jitter_and_ends() {
        let config = WebhooksConfig::default();
        assert_eq!(
            retry_delay(&config, 1, 0.0, None),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_delay(&config, 2, 0.0, None),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            retry_delay(&config, 7, 0.0, None),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(
            retry_delay(&config, 8, 0.0, None),
            None,
            "8 attempts in all"
        );
        assert_eq!(
            retry_delay(&config, 1, 1.0, None),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            retry_delay(&config, 1, -1.0, None),
            Some(Duration::from_secs(4))
        );
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_a_day() {
        let config = WebhooksConfig::default();
        let asked = Some(Duration::from_secs(60));
        assert_eq!(
            retry_delay(&config, 1, 0.0, asked),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_delay(&config, 2, 0.0, asked),
            Some(Duration::from_secs(300)),
            "a shorter Retry-After does not hurry the schedule"
        );
        assert_eq!(
            retry_delay(&config, 1, 0.0, Some(Duration::from_secs(7 * 24 * 3600))),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let secrets = vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
            endpoint::new_secret(),
        ];
        let header = signature_header(&secrets, "msg_1", 1614265330, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        for secret in &secrets {
            assert!(landlord_core::webhook_signature::verify(
                secret, "msg_1", 1614265330, b"{}", &header
            ));
        }
    }
}
