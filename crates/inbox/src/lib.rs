//! Module: Inbox — a shared WhatsApp team inbox
//! on Landlord's tenancy, roles, plans and metering.
//!
//! - [`channels`][]: connecting numbers (secrets sealed at rest);
//! - [`graph`][]: checking a number and its token with Meta (on connect
//!   and "Test connection");
//! - [`inbound`][]: Meta's handshake and signed notifications, processed
//!   by a job: contacts, conversations (one unresolved per contact and
//!   channel), messages (one per provider id), status callbacks that never
//!   go backwards;
//! - [`conversations`][]: lists, threads, replies (the 24-hour window),
//!   assignment, status, labels;
//! - [`outbound`][]: metering and the Graph API call (a job);
//! - [`library`][]: canned responses and templates;
//! - [`reports`][]: opened, resolved, first response and resolution times
//!   per day (median, p90), by agent, label or channel, and as CSV;
//! - [`bulk`][]: close, assign, label many conversations as a job with progress;
//! - [`live`][]: the realtime stream (rows + wake-ups over Redis);
//! - [`whatsapp`][]: the Cloud API's documented shapes and signature;
//! - [`store`][]: the module's SQL; [`ids`][]: its typed ids;
//! - [`events`][]: the events it records, their payloads and types (the
//!   binary adds [`events::EVENT_TYPES`] to the catalog);
//! - [`permissions`][]: who may do what, and the `needs` marker types;
//! - [`pages`][]: the console's inbox and channel pages and the page's
//!   script, registered with the console's shell.

pub mod bulk;
pub mod channels;
pub mod config;
pub mod conversations;
pub mod events;
pub mod graph;
pub mod ids;
pub mod inbound;
pub mod library;
pub mod live;
pub mod outbound;
pub mod pages;
pub mod permissions;
pub mod reports;
pub mod routes;
pub mod store;
pub mod whatsapp;

pub use bulk::{BulkJob, BULK_JOB};
pub use inbound::{ProcessNotification, PROCESS_JOB};
pub use outbound::{SendMessage, SEND_JOB};

use std::sync::Arc;

use axum::extract::FromRef;
use landlord_core::{Config, Db};
use landlord_identity::IdentityState;
use landlord_keys::KeysState;
use landlord_limits::RateLimiter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The module's tables (`migrations/`), embedded in the binary. The binary
/// applies them with everyone else's (`Db::migrate`), whether or not the
/// module is switched on.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What the Inbox's routes and pages need: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct InboxState(Arc<InboxInner>);

/// The services behind [`InboxState`], reached through `Deref`.
pub struct InboxInner {
    pub db: Db,
    pub config: Arc<Config>,
    /// Sessions, and the job queue's waker.
    pub identity: IdentityState,
    /// Limits how often streams are opened.
    pub limiter: Arc<RateLimiter>,
    /// The keys feature's metering: outgoing messages count as requests.
    pub keys: KeysState,
    /// Asks Meta about a number's credentials.
    pub graph: graph::GraphClient,
}

impl InboxState {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        identity: IdentityState,
        limiter: Arc<RateLimiter>,
        keys: KeysState,
    ) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(InboxInner {
            db,
            config,
            identity,
            limiter,
            keys,
            graph: graph::GraphClient::new()?,
        })))
    }
}

impl std::ops::Deref for InboxState {
    type Target = InboxInner;

    fn deref(&self) -> &InboxInner {
        &self.0
    }
}

impl FromRef<InboxState> for IdentityState {
    fn from_ref(state: &InboxState) -> Self {
        state.identity.clone()
    }
}

/// The module's routes.
pub fn router() -> OpenApiRouter<InboxState> {
    use routes::{
        channels as ch, conversations as cv, library as lib, reports as rp, stream as st,
        webhook as wh,
    };
    OpenApiRouter::new()
        .routes(routes!(ch::connect, ch::list))
        .routes(routes!(ch::get, ch::disconnect))
        .routes(routes!(ch::check))
        .routes(routes!(wh::handshake, wh::notification))
        .routes(routes!(cv::contacts))
        .routes(routes!(cv::contact, cv::update_contact))
        .routes(routes!(cv::list))
        .routes(routes!(cv::get))
        .routes(routes!(cv::messages, cv::reply))
        .routes(routes!(cv::assign))
        .routes(routes!(cv::set_status))
        .routes(routes!(cv::set_labels))
        .routes(routes!(cv::bulk))
        .routes(routes!(cv::job))
        .routes(routes!(st::stream))
        .routes(routes!(st::presence))
        .routes(routes!(lib::add_canned_response, lib::canned_responses))
        .routes(routes!(lib::delete_canned_response))
        .routes(routes!(lib::add_template, lib::templates))
        .routes(routes!(lib::delete_template))
        .routes(routes!(rp::report))
        .routes(routes!(rp::report_csv))
}
