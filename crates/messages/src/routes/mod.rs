//! `POST /messages/send` and `GET /messages/{id}`, with an API key.

mod read;
mod send;

use std::sync::Arc;

use landlord_core::ids::MessageId;
use landlord_core::{Db, Timestamp};
use serde::Serialize;
use tokio::sync::Notify;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::store::{Channel, MessageStatus};
pub use send::{is_e164, SendMessageRequest};

use crate::store::MessageRow;

/// What the message routes need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct MessagesState(Arc<MessagesInner>);

/// The services behind [`MessagesState`], reached through `Deref`.
pub struct MessagesInner {
    pub db: Db,
    /// Wakes this instance's job worker after a message is queued.
    pub jobs: Arc<Notify>,
}

impl MessagesState {
    pub fn new(db: Db, jobs: Arc<Notify>) -> Self {
        Self(Arc::new(MessagesInner { db, jobs }))
    }
}

impl std::ops::Deref for MessagesState {
    type Target = MessagesInner;

    fn deref(&self) -> &MessagesInner {
        &self.0
    }
}

pub fn router() -> OpenApiRouter<MessagesState> {
    OpenApiRouter::new()
        .routes(routes!(send::send_message))
        .routes(routes!(read::get_message))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub status: MessageStatus,
    /// Why the last delivery attempt failed.
    pub failure_reason: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

impl From<MessageRow> for MessageView {
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
        }
    }
}
