//! SMS providers: Twilio's Messages API for real, and a development outbox
//! that writes files. Which one runs is decided once, from the
//! configuration ([`provider_for`]), as is whether `channel: "sms"` is
//! taken at all ([`Availability`]).

use std::path::PathBuf;
use std::sync::Arc;

use landlord_core::ids::MessageId;
use landlord_core::Config;

use crate::sms_config::SmsConfig;
use crate::twilio::TwilioProvider;

/// One SMS to hand over.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingSms<'a> {
    /// Our id: Twilio's status callbacks carry it back.
    pub message_id: &'a MessageId,
    /// E.164.
    pub to: &'a str,
    pub body: &'a str,
}

/// What a provider did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsOutcome {
    /// The provider took it, under its own id.
    Sent { provider_message_id: String },
    /// The provider took it and answered at once that it failed.
    Failed {
        provider_message_id: String,
        reason: String,
    },
    /// Written to a development outbox: nobody received it.
    Simulated { reference: String },
}

/// Why a provider did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Refused for good (a bad number, a blocked sender…): another
    /// attempt would be refused too.
    #[error("{0}")]
    Refused(String),
    /// Out of reach or overloaded: try again later.
    #[error("{0:#}")]
    Unavailable(anyhow::Error),
}

/// Sends SMS.
#[async_trait::async_trait]
pub trait SmsProvider: Send + Sync + 'static {
    /// Stored beside the provider's message id (`twilio`, `outbox`).
    fn name(&self) -> &'static str;

    async fn send(&self, sms: OutgoingSms<'_>) -> Result<SmsOutcome, SmsError>;
}

/// The development outbox: writes each SMS as a file in `data_dir/sms`.
/// Nothing leaves the machine, so its messages are `simulated`.
pub struct FileSmsProvider {
    pub dir: PathBuf,
}

#[async_trait::async_trait]
impl SmsProvider for FileSmsProvider {
    fn name(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, sms: OutgoingSms<'_>) -> Result<SmsOutcome, SmsError> {
        let write = async {
            tokio::fs::create_dir_all(&self.dir).await?;
            let reference = uuid::Uuid::now_v7().to_string();
            tokio::fs::write(
                self.dir.join(format!("{reference}.txt")),
                format!("To: {}\n\n{}\n", sms.to, sms.body),
            )
            .await?;
            Ok::<_, std::io::Error>(reference)
        };
        let reference = write
            .await
            .map_err(|e| SmsError::Unavailable(anyhow::Error::new(e).context("the SMS outbox")))?;
        tracing::info!(
            to = sms.to,
            reference,
            "no SMS provider configured: message written to a file (simulated)"
        );
        Ok(SmsOutcome::Simulated { reference })
    }
}

/// The SMS provider of this configuration: Twilio when configured; the
/// development outbox when the server runs on loopback
/// ([`Config::is_development`]); none otherwise (`channel: "sms"` is then
/// refused).
pub fn provider_for(config: &Config) -> anyhow::Result<Option<Arc<dyn SmsProvider>>> {
    if let Some(settings) = config.section::<SmsConfig>().twilio() {
        let provider = TwilioProvider::new(settings, config.public_url.trim_end_matches('/'))?;
        return Ok(Some(Arc::new(provider)));
    }
    if config.is_development() {
        return Ok(Some(Arc::new(FileSmsProvider {
            dir: config.data_dir.join("sms"),
        })));
    }
    Ok(None)
}

/// Which channels this server takes: a channel without a real transport
/// is taken only in development, where its messages are `simulated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    pub email: bool,
    pub sms: bool,
}

impl Availability {
    pub fn from_config(config: &Config) -> Self {
        let development = config.is_development();
        Self {
            email: development || config.smtp_host.is_some(),
            sms: development || config.section::<SmsConfig>().twilio().is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_writes_a_file_and_calls_it_simulated() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileSmsProvider {
            dir: dir.path().join("sms"),
        };
        let id = MessageId::generate();
        let outcome = provider
            .send(OutgoingSms {
                message_id: &id,
                to: "+14155550123",
                body: "Your code is 123456",
            })
            .await
            .unwrap();
        assert!(matches!(outcome, SmsOutcome::Simulated { .. }));
        let file = std::fs::read_dir(dir.path().join("sms"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("+14155550123") && text.contains("123456"));
    }

    #[test]
    fn without_a_provider_only_development_takes_sms_and_email() {
        let development = Config::default();
        assert_eq!(
            Availability::from_config(&development),
            Availability {
                email: true,
                sms: true
            }
        );
        assert!(provider_for(&development).unwrap().is_some());
        let production = Config {
            public_url: "https://api.example.com".into(),
            ..Config::default()
        };
        assert_eq!(
            Availability::from_config(&production),
            Availability {
                email: false,
                sms: false
            }
        );
        assert!(provider_for(&production).unwrap().is_none());
        let with_smtp = Config {
            smtp_host: Some("smtp.example.com".into()),
            ..production
        };
        assert!(Availability::from_config(&with_smtp).email);
    }
}
