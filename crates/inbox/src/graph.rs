//! Checking a channel's credentials against the Graph API: `GET
//! /{phone-number-id}` with the channel's access token answers the number
//! as Meta shows it, or says which of the two it does not accept. Done when
//! a number is connected (nothing is saved that Meta refuses) and on demand
//! ("Test connection").
//!
//! People read the outcome, so it is a plain sentence; what went wrong on
//! the wire (a URL, a socket error) is logged for the operator, never shown.

use landlord_core::telemetry::SendTraced;
use std::time::Duration;

use anyhow::Context;
use landlord_core::config::Config;
use landlord_core::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::InboxConfig;
use crate::whatsapp::{GraphErrorAnswer, PhoneNumber};

/// The HTTP client that asks the Graph API about numbers.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
}

impl GraphClient {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the inbox's Graph API client")?;
        Ok(Self { http })
    }
}

/// What Meta said about a number and its access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Meta knows the number and accepts the token.
    Working,
    /// Meta refused the token or does not know the number for it.
    Refused,
    /// Meta could not be reached or failed; nothing is known.
    Unreachable,
}

/// The outcome of a credential check.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelCheck {
    pub status: CheckStatus,
    /// A sentence for a person: what works, or what to fix.
    #[schema(example = "WhatsApp accepts this number and token: +1 555-078-3881 (Acme Support).")]
    pub message: String,
    /// The field to fix when refused: `access_token` or `phone_number_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The number as Meta shows it, when working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// The business name Meta verified for it, when working.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_name: Option<String>,
}

impl ChannelCheck {
    fn working(number: PhoneNumber) -> Self {
        let shown = match (&number.display_phone_number, &number.verified_name) {
            (Some(phone), Some(name)) => format!(": {phone} ({name})"),
            (Some(phone), None) => format!(": {phone}"),
            _ => String::new(),
        };
        ChannelCheck {
            status: CheckStatus::Working,
            message: format!("WhatsApp accepts this number and token{shown}."),
            field: None,
            display_phone_number: number.display_phone_number,
            verified_name: number.verified_name,
        }
    }

    fn refused(field: &str, message: String) -> Self {
        ChannelCheck {
            status: CheckStatus::Refused,
            message,
            field: Some(field.to_string()),
            display_phone_number: None,
            verified_name: None,
        }
    }

    fn unreachable() -> Self {
        ChannelCheck {
            status: CheckStatus::Unreachable,
            message:
                "WhatsApp could not be reached to check this number. Try again in a few minutes."
                    .into(),
            field: None,
            display_phone_number: None,
            verified_name: None,
        }
    }

    /// The check as the answer to connecting a number: working → go on;
    /// refused → 422 naming the field; unreachable → 503, nothing saved.
    pub fn admit(self) -> Result<(), ApiError> {
        match (self.status, self.field) {
            (CheckStatus::Working, _) => Ok(()),
            (CheckStatus::Refused, Some(field)) => Err(ApiError::invalid_field(&field, self.message)),
            (CheckStatus::Refused, None) => Err(ApiError::invalid_field("access_token", self.message)),
            (CheckStatus::Unreachable, _) => Err(ApiError::ServiceUnavailable {
                message: "WhatsApp could not be reached to check these credentials; nothing was saved. Try again in a few minutes.".into(),
                details: None,
            }),
        }
    }
}

/// Asks Meta about `phone_number_id` with `access_token`.
pub async fn check(
    client: &GraphClient,
    config: &Config,
    phone_number_id: &str,
    access_token: &str,
) -> ChannelCheck {
    let url = config
        .section::<InboxConfig>()
        .phone_number_url(phone_number_id);
    let answer = client
        .http
        .get(&url)
        .query(&[("fields", "display_phone_number,verified_name")])
        .bearer_auth(access_token)
        .send_traced("whatsapp")
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(%phone_number_id, error = %error, "checking a WhatsApp number: the Graph API could not be reached");
            return ChannelCheck::unreachable();
        }
    };
    let status = response.status();
    if status.is_success() {
        return match response.json::<PhoneNumber>().await {
            Ok(number) => ChannelCheck::working(number),
            Err(error) => {
                tracing::warn!(%phone_number_id, error = %error, "checking a WhatsApp number: an answer that is not a phone number");
                ChannelCheck::unreachable()
            }
        };
    }
    let refusal = response.json::<GraphErrorAnswer>().await.ok();
    if status.is_server_error() || status.as_u16() == 429 || refusal.is_none() {
        tracing::warn!(%phone_number_id, %status, "checking a WhatsApp number: the Graph API failed");
        return ChannelCheck::unreachable();
    }
    let error = refusal.map(|answer| answer.error);
    let words = error.as_ref().map(|e| e.words()).unwrap_or_default();
    match error.map(|e| e.code) {
        // Code 190: the access token is invalid or expired; 10 and 200:
        // the token lacks permission for the number.
        Some(190) => ChannelCheck::refused(
            "access_token",
            format!("WhatsApp does not accept this access token ({words})."),
        ),
        Some(10) | Some(200) => ChannelCheck::refused(
            "access_token",
            format!("This access token has no permission for the number ({words})."),
        ),
        // Code 100: the object does not exist (or is not visible to the
        // token); Meta's words are about Graph objects, not numbers.
        _ => {
            tracing::info!(%phone_number_id, %status, %words, "checking a WhatsApp number: refused");
            ChannelCheck::refused(
                "phone_number_id",
                "WhatsApp knows no number with this id for this access token. Check the phone number id in WhatsApp Manager › API setup.".into(),
            )
        }
    }
}

/// The name integration health gives a channel: `whatsapp:<channel id>`.
pub fn integration_name(channel: &crate::ids::InboxChannelId) -> String {
    format!("whatsapp:{channel}")
}

/// One channel as integration health probes it.
pub struct ProbeTarget {
    /// `whatsapp:<channel id>`.
    pub integration: String,
    phone_number_id: String,
    access_token: String,
}

/// Every organization's channels, each with its opened access token.
/// A channel whose token cannot be opened (the payload key changed) is
/// a probe that fails.
pub async fn probe_targets(
    db: &landlord_core::Db,
    cipher: &landlord_core::sealed::PayloadCipher,
) -> Result<Vec<(ProbeTarget, Option<String>)>, sqlx::Error> {
    let channels = crate::store::all_channels(db.pool()).await?;
    Ok(channels
        .into_iter()
        .map(|channel| {
            let opened = crate::channels::open(
                cipher,
                &channel.id,
                "access_token",
                &channel.access_token_sealed,
            );
            let (access_token, error) = match opened {
                Ok(token) => (token, None),
                Err(_) => (
                    String::new(),
                    Some("the channel's access token cannot be opened".to_string()),
                ),
            };
            (
                ProbeTarget {
                    integration: integration_name(&channel.id),
                    phone_number_id: channel.phone_number_id,
                    access_token,
                },
                error,
            )
        })
        .collect())
}

/// The light probe of a channel: the credential check (`GET
/// /{phone-number-id}`); `Err` says why it is not working.
pub async fn probe(
    client: &GraphClient,
    config: &Config,
    target: &ProbeTarget,
) -> Result<(), String> {
    let answer = check(
        client,
        config,
        &target.phone_number_id,
        &target.access_token,
    )
    .await;
    match answer.status {
        CheckStatus::Working => Ok(()),
        CheckStatus::Refused | CheckStatus::Unreachable => Err(answer.message),
    }
}
