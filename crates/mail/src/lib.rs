//! Transactional mail.
//!
//! A feature queues a [`Mail`] with [`queue`] in the transaction of the change
//! that causes it; the job worker later renders its template (minijinja,
//! from the files in `templates/` or a module's registered on the
//! [`Mailer`], HTML with a plain-text part) and delivers
//! it over SMTP (lettre), or — when no SMTP server is configured — writes it
//! as an `.eml` file in `data_dir/mail` and logs its link, so a fresh
//! install can be tried by hand. With SMTP configured no link is logged.
//!
//! Mail that carries a one-time token (verification, reset, invitation) is
//! queued with [`queue_sealed`]: its whole context is sealed with the
//! payload key (XChaCha20-Poly1305, bound to the recipient and template),
//! so the jobs table — kept 7 days — holds no usable token.

mod dkim;
pub mod store;
pub mod suppression;
mod templates;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::config::{Config, SmtpTls};
use landlord_core::sealed::PayloadCipher;
use landlord_core::Db;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use dkim::Dkim;
pub use suppression::SuppressionReason;
pub use templates::{ModuleTemplate, Rendered, Template, Templates};

/// Kind of the job that delivers one mail.
pub const MAIL_JOB: &str = "mail.send";

/// A mail to send: who to, which template, the values it needs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub template: Template,
    pub context: Value,
}

/// The context may hold tokens and links with tokens: `Debug` names its
/// keys only.
impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self
            .context
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("template", &self.template)
            .field("context_keys", &keys)
            .finish()
    }
}

/// A mail job's payload: the context in the clear, or sealed.
#[derive(Serialize, Deserialize)]
struct MailPayload {
    to: String,
    template: Template,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    context: Value,
    /// The context, sealed with the payload key (`v1:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
}

/// What a sealed context is bound to: changing the recipient or the
/// template in the database makes it impossible to open.
fn seal_context(to: &str, template: &Template) -> Vec<u8> {
    format!("{MAIL_JOB}\n{to}\n{}", template.as_str()).into_bytes()
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot render template {template}: {message}")]
    Render { template: String, message: String },
    #[error("no mail template is named {0} (a module's templates are registered on the mailer)")]
    UnknownTemplate(String),
    #[error("cannot register mail template {template}: {message}")]
    Register { template: String, message: String },
    #[error("invalid address {address}: {message}")]
    Address { address: String, message: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The SMTP server refused the mail for good (a 5xx reply): sending it
    /// again would fail the same way.
    #[error("the SMTP server refused the mail permanently: {message}")]
    Refused { code: Option<u16>, message: String },
    #[error("cannot write the mail file: {0}")]
    File(#[from] std::io::Error),
    #[error("SMTP settings: {0}")]
    Settings(String),
}

/// Queues `mail` through `executor` — the transaction of the change that
/// causes it, so neither is kept without the other.
pub async fn queue<'c, E>(executor: E, mail: &Mail) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let payload = serde_json::to_value(mail).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    landlord_jobs::enqueue(executor, NewJob::new(MAIL_JOB, payload)).await?;
    Ok(())
}

/// Queues every mail of `mails` through `conn` — the transaction of the
/// change that causes them — in a few multi-row statements: for batches
/// (the month close's invoices), where one round trip per mail would cost
/// more than the work.
pub async fn queue_many(conn: &mut sqlx::AnyConnection, mails: &[Mail]) -> Result<(), sqlx::Error> {
    let jobs = mails
        .iter()
        .map(|mail| {
            let payload =
                serde_json::to_value(mail).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            Ok(NewJob::new(MAIL_JOB, payload))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    landlord_jobs::enqueue_many(conn, &jobs).await?;
    Ok(())
}

/// Like [`queue`], with the context (tokens, links) sealed with `cipher`:
/// for every mail that carries a secret.
pub async fn queue_sealed<'c, E>(
    executor: E,
    mail: &Mail,
    cipher: &PayloadCipher,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let payload = sealed_payload(mail, cipher).map_err(|e| sqlx::Error::Encode(e.into()))?;
    landlord_jobs::enqueue(executor, NewJob::new(MAIL_JOB, payload)).await?;
    Ok(())
}

/// The job payload of `mail` with its context sealed.
pub fn sealed_payload(mail: &Mail, cipher: &PayloadCipher) -> anyhow::Result<Value> {
    let context = serde_json::to_vec(&mail.context)?;
    let sealed = cipher.seal(&context, &seal_context(&mail.to, &mail.template))?;
    Ok(serde_json::to_value(MailPayload {
        to: mail.to.clone(),
        template: mail.template.clone(),
        context: Value::Null,
        sealed: Some(sealed),
    })?)
}

/// Reads a mail job's payload, opening a sealed context with `cipher`.
pub fn open_payload(payload: &Value, cipher: &PayloadCipher) -> anyhow::Result<Mail> {
    let payload: MailPayload = serde_json::from_value(payload.clone())?;
    let context = match payload.sealed.as_deref() {
        None => payload.context,
        Some(sealed) => {
            let bytes = cipher.open(sealed, &seal_context(&payload.to, &payload.template))?;
            serde_json::from_slice(&bytes)?
        }
    };
    Ok(Mail {
        to: payload.to,
        template: payload.template,
        context,
    })
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Where a delivered mail went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handover {
    /// The SMTP server took it.
    Smtp,
    /// No SMTP server is configured: the mail was written to this file
    /// and nobody received it.
    Outbox(PathBuf),
}

/// Spaces the mails handed to the SMTP server so that one instance sends
/// at most `per_second` a second (the provider's rate): each send takes
/// the next free slot and waits for it.
struct SendRate {
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl SendRate {
    fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| Self {
            interval: Duration::from_secs(1) / per_second,
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        })
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Renders and delivers mail.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
    templates: Templates,
    /// Every SMTP send's outcome, for integration health.
    smtp_calls: Arc<landlord_core::calls::Counter>,
    dkim: Option<Dkim>,
    rate: Option<SendRate>,
}

impl Mailer {
    /// SMTP when `smtp_host` is set, files in `data_dir/mail` otherwise.
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        let from: Mailbox = config.mail_from.parse().map_err(|e| MailError::Address {
            address: config.mail_from.clone(),
            message: format!("{e}"),
        })?;
        let transport = match config.smtp_host.as_deref() {
            None => Transport::Files(config.data_dir.join("mail")),
            Some(host) => {
                let builder = match config.smtp_tls {
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(|e| MailError::Settings(e.to_string()))?,
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .map_err(|e| MailError::Settings(e.to_string()))?,
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                };
                let mut builder = builder
                    .port(config.smtp_port)
                    .timeout(Some(Duration::from_secs(15)));
                if let Some(user) = config.smtp_username.clone() {
                    builder = builder.credentials(Credentials::new(
                        user,
                        config
                            .smtp_password
                            .as_ref()
                            .map(|p| p.expose_str().to_string())
                            .unwrap_or_default(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self {
            from,
            transport,
            templates: Templates::new(),
            smtp_calls: landlord_core::calls::CallCounts::of(config).counter("smtp"),
            dkim: Dkim::from_config(config)?,
            rate: SendRate::new(config.mail_max_per_second),
        })
    }

    /// The DKIM signer, when mail is signed.
    pub fn dkim(&self) -> Option<&Dkim> {
        self.dkim.as_ref()
    }

    /// Adds modules' templates, so mails naming them can be rendered.
    pub fn with_templates(mut self, templates: &[ModuleTemplate]) -> Result<Self, MailError> {
        for template in templates {
            self.templates.register(template)?;
        }
        Ok(self)
    }

    /// Renders one mail without delivering it.
    pub fn render(&self, mail: &Mail) -> Result<Rendered, MailError> {
        self.templates.render(&mail.template, &mail.context)
    }

    /// Renders and delivers one mail now.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let rendered = self.render(mail)?;
        let link = mail
            .context
            .get("link")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.deliver(&mail.to, &rendered, mail.template.as_str(), link)
            .await?;
        Ok(())
    }

    /// A light check of the SMTP server: connects, greets it (EHLO, and
    /// the TLS and sign-in the settings ask for) and sends NOOP, within
    /// the transport's timeout. `None` when mail goes to files.
    pub async fn probe(&self) -> Option<Result<(), MailError>> {
        let Transport::Smtp(transport) = &self.transport else {
            return None;
        };
        Some(match transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Smtp("the server did not answer NOOP".into())),
            Err(e) => Err(MailError::Smtp(e.to_string())),
        })
    }

    /// Whether mail goes to an SMTP server (rather than to files).
    pub fn has_smtp(&self) -> bool {
        matches!(self.transport, Transport::Smtp(_))
    }

    /// Delivers a message that is not from a template (the messaging API):
    /// the plain text is also shown, escaped, as the HTML part. Says where
    /// it went: a message written to a file was not sent.
    pub async fn send_plain(
        &self,
        to: &str,
        subject: &str,
        text: &str,
    ) -> Result<Handover, MailError> {
        let html = format!(
            "<!doctype html><html><body><pre style=\"font-family: inherit; white-space: pre-wrap\">{}</pre></body></html>",
            text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
        );
        let rendered = Rendered {
            subject: subject.to_string(),
            text: text.to_string(),
            html,
        };
        self.deliver(to, &rendered, "message", "").await
    }

    async fn deliver(
        &self,
        to: &str,
        rendered: &Rendered,
        label: &str,
        link: &str,
    ) -> Result<Handover, MailError> {
        let to: Mailbox = to.parse().map_err(|e| MailError::Address {
            address: to.to_string(),
            message: format!("{e}"),
        })?;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(rendered.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(rendered.html.clone()),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))?;
        if let Some(dkim) = &self.dkim {
            dkim.sign(&mut message);
        }
        match &self.transport {
            Transport::Smtp(smtp) => {
                if let Some(rate) = &self.rate {
                    rate.wait().await;
                }
                // Exported traces: the hand-over to the SMTP server is a
                // client span (nothing is created when traces are off).
                let span = if landlord_core::telemetry::traces_enabled() {
                    tracing::info_span!(
                        "smtp send",
                        otel.name = "SMTP send",
                        otel.kind = "client",
                        mail.template = label,
                        otel.status_code = tracing::field::Empty,
                    )
                } else {
                    tracing::Span::none()
                };
                let sent = tracing::Instrument::instrument(smtp.send(message), span.clone()).await;
                // A mailbox the server refuses (550-553) is the address's
                // trouble, not the provider's: it counts as answered.
                let refused_mailbox = sent
                    .as_ref()
                    .err()
                    .and_then(|e| e.status())
                    .is_some_and(|code| (550..=553).contains(&u16::from(code)));
                self.smtp_calls.record(sent.is_ok() || refused_mailbox);
                sent.map_err(|e| {
                    span.record("otel.status_code", "ERROR");
                    if e.is_permanent() {
                        MailError::Refused {
                            code: e.status().map(u16::from),
                            message: e.to_string(),
                        }
                    } else {
                        MailError::Smtp(e.to_string())
                    }
                })?;
                // Never the link: it may carry a one-time token.
                tracing::info!(template = label, "mail delivered over SMTP");
                Ok(Handover::Smtp)
            }
            Transport::Files(dir) => {
                // Development mode only (no SMTP): the link is logged so a
                // fresh install can be tried by hand.
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}-{label}.eml", uuid::Uuid::now_v7()));
                tokio::fs::write(&path, message.formatted()).await?;
                tracing::info!(
                    template = label,
                    path = %path.display(),
                    link,
                    "no SMTP configured: mail written to a file"
                );
                Ok(Handover::Outbox(path))
            }
        }
    }
}

/// The job handler that delivers queued mail, opening sealed contexts
/// with the payload key. A suppressed recipient is not mailed (the job
/// ends done); a permanent SMTP refusal suppresses the recipient and ends
/// the job without another attempt.
pub struct MailJob {
    pub db: Db,
    pub mailer: Arc<Mailer>,
    pub cipher: PayloadCipher,
}

#[async_trait::async_trait]
impl JobHandler for MailJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let mail = open_payload(payload, &self.cipher)?;
        if suppression::is_suppressed(&self.db, &mail.to).await? {
            metrics::counter!("mail_suppressed_skipped_total").increment(1);
            tracing::info!(
                template = mail.template.as_str(),
                "mail not sent: the recipient is on the suppression list"
            );
            return Ok(());
        }
        match self.mailer.send(&mail).await {
            Ok(()) => Ok(()),
            Err(MailError::Refused { code, message }) => {
                tracing::warn!(
                    template = mail.template.as_str(),
                    code,
                    "the SMTP server refused the recipient permanently: suppressed, not retried"
                );
                suppression::suppress(
                    &self.db,
                    &mail.to,
                    SuppressionReason::SmtpPermanent,
                    code,
                    Some(message),
                    "smtp",
                )
                .await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_smtp_mail_is_written_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let mailer = Mailer::from_config(&config).unwrap();
        mailer
            .send(&Mail {
                to: "ada@example.com".into(),
                template: Template::PasswordReset,
                context: serde_json::json!({"name": "Ada", "link": "http://x/reset?token=abc", "token": "abc"}),
            })
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains("To: ada@example.com"));
        assert!(text.contains("Subject: Reset your password"));
        assert!(text.contains("text/html"));
        assert!(text.contains("text/plain"));
    }

    #[test]
    fn a_sealed_payload_shows_no_token_and_opens_with_its_key_only() {
        let cipher = PayloadCipher::new(&"p".repeat(64));
        let token = "f".repeat(64);
        let mail = Mail {
            to: "ada@example.com".into(),
            template: Template::PasswordReset,
            context: serde_json::json!({"name": "Ada", "link": format!("http://x/reset?token={token}"), "token": token}),
        };
        let payload = sealed_payload(&mail, &cipher).unwrap();
        let stored = payload.to_string();
        assert!(!stored.contains(&token), "{stored}");
        assert!(!format!("{mail:?}").contains(&token));
        let opened = open_payload(&payload, &cipher).unwrap();
        assert_eq!(opened.context, mail.context);
        assert_eq!(opened.to, "ada@example.com");
        // Another key, or the mail redirected in the database: refused.
        assert!(open_payload(&payload, &PayloadCipher::new(&"q".repeat(64))).is_err());
        let mut redirected = payload.clone();
        redirected["to"] = "mallory@example.com".into();
        assert!(open_payload(&redirected, &cipher).is_err());
        // Payloads queued in the clear (before this change) still open.
        let clear = serde_json::to_value(&mail).unwrap();
        assert_eq!(open_payload(&clear, &cipher).unwrap().context, mail.context);
    }

    #[tokio::test(start_paused = true)]
    async fn the_send_rate_spaces_sends_and_zero_is_no_limit() {
        assert!(SendRate::new(0).is_none());
        let rate = SendRate::new(4).unwrap();
        let started = tokio::time::Instant::now();
        for _ in 0..9 {
            rate.wait().await;
        }
        // Nine sends at four a second: the ninth leaves 2 s after the first.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // After an idle while, the next send goes at once (no burst saved
        // up, no debt).
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle = tokio::time::Instant::now();
        rate.wait().await;
        assert_eq!(idle.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_bad_recipient_fails_the_send() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let mailer = Mailer::from_config(&config).unwrap();
        let error = mailer
            .send(&Mail {
                to: "not an address".into(),
                template: Template::Welcome,
                context: serde_json::json!({"organization_name": "Acme", "link": "x"}),
            })
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Address { .. }));
    }

    #[tokio::test]
    async fn a_job_naming_an_unregistered_template_fails_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let cipher = PayloadCipher::new(&"p".repeat(64));
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect_url(&url, landlord_core::config::DatabaseKind::Sqlite, 2)
            .await
            .unwrap();
        db.migrate(&[]).await.unwrap();
        let job = MailJob {
            db,
            mailer: Arc::new(Mailer::from_config(&config).unwrap()),
            cipher,
        };
        let payload = serde_json::json!({
            "to": "ada@example.com",
            "template": "shop_order_paid",
            "context": {"link": "x"},
        });
        let attempt = Attempt {
            number: 1,
            last: false,
        };
        let error = job.handle(&payload, attempt).await.unwrap_err();
        assert!(
            format!("{error:#}").contains("no mail template is named shop_order_paid"),
            "{error:#}"
        );
        assert!(!dir.path().join("mail").exists());
    }
}
