//! Transactional mail.
//!
//! A feature queues a [`Mail`] with [`queue`] in the transaction of the change
//! that causes it; the job worker later renders its template (minijinja,
//! from the files in `templates/`, HTML with a plain-text part) and delivers
//! it over SMTP (lettre), or — when no SMTP server is configured — writes it
//! as an `.eml` file in `data_dir/mail` and logs its link, so a fresh
//! install can be tried by hand.

mod templates;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::config::{Config, SmtpTls};
use landlord_jobs::{Attempt, JobHandler, NewJob};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use templates::{render, Rendered, Template};

/// Kind of the job that delivers one mail.
pub const MAIL_JOB: &str = "mail.send";

/// A mail to send: who to, which template, the values it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub template: Template,
    pub context: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot render template {template}: {message}")]
    Render { template: String, message: String },
    #[error("invalid address {address}: {message}")]
    Address { address: String, message: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
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

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Renders and delivers mail.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
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
                        config.smtp_password.clone().unwrap_or_default(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, transport })
    }

    /// Renders and delivers one mail now.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let rendered = render(mail.template, &mail.context)?;
        let link = mail
            .context
            .get("link")
            .and_then(Value::as_str)
            .unwrap_or("");
        self.deliver(&mail.to, &rendered, mail.template.as_str(), link)
            .await
    }

    /// Delivers a message that is not from a template (the messaging API):
    /// the plain text is also shown, escaped, as the HTML part.
    pub async fn send_plain(&self, to: &str, subject: &str, text: &str) -> Result<(), MailError> {
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
    ) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|e| MailError::Address {
            address: to.to_string(),
            message: format!("{e}"),
        })?;
        let message = Message::builder()
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
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message)
                    .await
                    .map_err(|e| MailError::Smtp(e.to_string()))?;
                tracing::info!(template = label, "mail delivered over SMTP");
            }
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}-{label}.eml", uuid::Uuid::now_v7()));
                tokio::fs::write(&path, message.formatted()).await?;
                tracing::info!(
                    template = label,
                    path = %path.display(),
                    link,
                    "no SMTP configured: mail written to a file"
                );
            }
        }
        Ok(())
    }
}

/// The job handler that delivers queued mail.
pub struct MailJob(pub Arc<Mailer>);

#[async_trait::async_trait]
impl JobHandler for MailJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let mail: Mail = serde_json::from_value(payload.clone())?;
        self.0.send(&mail).await?;
        Ok(())
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
}
