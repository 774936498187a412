//! `POST /messages/send` and `GET /messages/{id}`, with an API key; and
//! `POST /webhooks/twilio`, Twilio's signed status callbacks.

mod read;
mod send;
mod twilio;

use std::sync::Arc;

use landlord_core::ids::MessageId;
use landlord_core::{Config, Db, Secret, Timestamp};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::store::{Channel, MessageDeliveryStatus, MessageStatus};
pub use send::{is_e164, SendMessageRequest};
pub use twilio::{TwilioCallbackAck, TwilioStatusCallback};

use crate::sms::Availability;
use crate::sms_config::SmsConfig;
use crate::store::MessageRow;

/// What the message routes need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct MessagesState(Arc<MessagesInner>);

/// The services behind [`MessagesState`], reached through `Deref`.
pub struct MessagesInner {
    pub db: Db,
    /// Wakes this instance's job worker after a message is queued.
    pub jobs: Arc<Notify>,
    /// The channels this server takes (`POST /messages/send` refuses the
    /// others with 422).
    pub channels: Availability,
    /// What checks Twilio's status callbacks, when Twilio is configured.
    pub twilio: Option<TwilioCallbacks>,
}

/// What checks Twilio's status callbacks.
pub struct TwilioCallbacks {
    /// The key of `X-Twilio-Signature`.
    pub auth_token: Secret<String>,
    /// `public_url` without a trailing slash: the signed URL is this
    /// followed by the path and query Twilio requested.
    pub public_url: String,
}

impl MessagesState {
    pub fn new(db: Db, jobs: Arc<Notify>, config: &Config) -> Self {
        let twilio = config
            .section::<SmsConfig>()
            .twilio()
            .map(|settings| TwilioCallbacks {
                auth_token: settings.auth_token,
                public_url: config.public_url.trim_end_matches('/').to_string(),
            });
        Self(Arc::new(MessagesInner {
            db,
            jobs,
            channels: Availability::from_config(config),
            twilio,
        }))
    }
}

impl std::ops::Deref for MessagesState {
    type Target = MessagesInner;

    fn deref(&self) -> &MessagesInner {
        &self.0
    }
}

/// The API-key routes (behind the key guard).
pub fn router() -> OpenApiRouter<MessagesState> {
    OpenApiRouter::new()
        .routes(routes!(send::send_message))
        .routes(routes!(read::get_message))
}

/// The provider's callbacks: public, proven by their signature.
pub fn callbacks_router() -> OpenApiRouter<MessagesState> {
    OpenApiRouter::new().routes(routes!(twilio::twilio_status_callback))
}

/// A message of the messaging API as its sender sees it. Named apart from
/// a module's own `MessageView`: the OpenAPI document names a schema after
/// its type, and two types under one name publish one's shape for the other.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDeliveryView {
    pub id: MessageId,
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    /// `queued` until a provider takes it; `sent` when the SMTP server or
    /// the SMS provider took it; `delivered` when the SMS provider reports
    /// it reached the phone; `failed` (see `failure_reason`); `simulated`
    /// when a development outbox wrote it to a file — nobody received it.
    // Written with the enum's own name: the document names the schema
    // after the type as written here.
    pub status: MessageDeliveryStatus,
    /// Why the last delivery attempt failed, or why the provider reported
    /// the message failed.
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    /// When a provider took it (or the outbox wrote it).
    pub sent_at: Option<Timestamp>,
    /// Who took it: `smtp`, `twilio`, or `outbox` (simulated).
    pub provider: Option<String>,
    /// The provider's id of the message (Twilio's `SM…` SID).
    pub provider_message_id: Option<String>,
    /// When the SMS provider reported it delivered.
    pub delivered_at: Option<Timestamp>,
}

impl From<MessageRow> for MessageDeliveryView {
    fn from(row: MessageRow) -> Self {
        Self {
            id: row.id,
            channel: row.channel,
            to: row.recipient,
            subject: row.subject,
            status: row.status,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            sent_at: row.sent_at,
            provider: row.provider,
            provider_message_id: row.provider_message_id,
            delivered_at: row.delivered_at,
        }
    }
}
