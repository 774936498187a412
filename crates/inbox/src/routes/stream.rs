//! `GET /inbox/stream`: the organization's inbox as server-sent events,
//! and `POST /inbox/presence`: who is online, viewing, typing.

use std::collections::VecDeque;
use std::convert::Infallible;

use crate::ids::InboxConversationId;
use crate::InboxState;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json, Query};
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Db};
use landlord_identity::permissions::Authorized;
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::{IntoParams, ToSchema};

use crate::live::{self, Live, Subscription};
use crate::permissions::needs;
use crate::store::{self, StreamEventRow};

/// One event of the stream, as its fields arrive.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamEvent {
    /// Send it back as `Last-Event-ID` to resume after it.
    pub id: String,
    /// `message.created`, `message.status`, `conversation.updated` or `presence`.
    pub event: String,
    /// The event's JSON, as text.
    pub data: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Resume after this event id (as the `Last-Event-ID` header does).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub last_event_id: Option<String>,
}

struct Cursor {
    db: Db,
    subscription: Subscription,
    organization_id: OrganizationId,
    last: String,
    /// Read the rows after `last` before listening: after `Last-Event-ID`,
    /// or after falling behind the hub's buffer.
    catching_up: bool,
    buffered: VecDeque<StreamEventRow>,
    /// `inbox.stream_max_lifetime_secs` after the connection.
    ends_at: tokio::time::Instant,
}

/// The organization's inbox events as `text/event-stream`: `id` (send
/// it back as `Last-Event-ID` to resume), `event` (`message.created`,
/// `message.status`, `conversation.created`, `conversation.updated`,
/// `presence`) and `data` (JSON). Only this organization's events.
///
/// The stream ends when the session is signed out or revoked, or the
/// person leaves the organization (checked every few seconds, and at once
/// on such a change), and after `inbox.stream_max_lifetime_secs` (15 min):
/// reconnect with `Last-Event-ID` to resume where it ended. A person holds
/// at most `inbox.max_streams_per_user` open streams and an organization
/// `inbox.max_streams_per_organization` (per instance), and opens at most
/// `inbox.stream_opens_per_minute`: 429 with `Retry-After` beyond.
#[utoipa::path(
    get, path = "/api/v1/inbox/stream", tag = "Inbox",
    security(("bearer" = [])),
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The last event id received: resume after it"),
    ),
    responses(
        (status = 200, description = "Server-sent events, each `id`, `event` and `data` (JSON text); the stream ends when access ends and after the maximum lifetime (reconnect with `Last-Event-ID`)", content_type = "text/event-stream", body = StreamEvent),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 422, description = "The last event id is not an event id", body = ErrorEnvelope),
        (status = 429, description = "Too many open streams (of this person or organization) or too many opened this minute; `Retry-After` says when to try again", body = ErrorEnvelope,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn stream(
    State(state): State<InboxState>,
    Extension(live): Extension<Live>,
    user: Authorized<needs::UseInbox>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let asked = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        // An empty header is no header: the query's value (if any) is then
        // the one to check, not silently skipped.
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .or(query.last_event_id);
    let last = match asked {
        Some(id) if id.len() == 36 && uuid_like(&id) => Some(id),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "last_event_id",
                "is not an event id of this stream",
            ))
        }
        None => None,
    };
    Ok(Sse::new(open(&state, &live, &user, last).await?).keep_alive(keep_alive()))
}

/// Comments sent on an idle stream: they keep proxies from closing it and
/// let the server notice a client that went away (and free its place).
pub fn keep_alive() -> KeepAlive {
    KeepAlive::new().interval(std::time::Duration::from_secs(10))
}

/// Opens `user`'s stream of their organization's events after `last` (the
/// client's `Last-Event-ID`, already checked to be an id; none: from now),
/// for the API's stream and the console's (signed in by cookie) alike:
/// limits the opening rate, takes a place in the organization's hub (429
/// beyond the caps), says the person is online. The stream ends when
/// access ends, after the maximum lifetime, and at shutdown.
pub async fn open(
    state: &InboxState,
    live: &Live,
    user: &CurrentUser,
    last: Option<String>,
) -> Result<impl Stream<Item = Result<Event, Infallible>>, ApiError> {
    let per_minute = live.settings.opens_per_minute;
    let decision = state
        .limiter
        .check(&format!("inbox-stream:{}", user.user_id), per_minute)
        .await;
    if !decision.allowed {
        return Err(ApiError::RateLimited {
            message: format!("too many inbox streams opened; at most {per_minute} a minute"),
            retry_after_secs: decision.retry_after.as_micros().div_ceil(1_000_000).max(1) as u64,
        });
    }
    // Subscribe first, then read where to start: nothing committed in
    // between is missed.
    let subscription = live
        .subscribe(&user.organization_id, &user.user_id, &user.session_id)
        .await?;
    let (last, catching_up) = match last {
        Some(id) => (id.to_ascii_lowercase(), true),
        None => (
            store::last_stream_event(state.db.pool(), &user.organization_id).await?,
            false,
        ),
    };
    // Say this person is online.
    live::record(
        state.db.pool(),
        &user.organization_id,
        "presence",
        serde_json::json!({ "user_id": user.user_id, "status": "online", "conversation_id": null }),
    )
    .await?;
    live.wake(&user.organization_id).await;
    let cursor = Cursor {
        db: state.db.clone(),
        subscription,
        organization_id: user.organization_id.clone(),
        last,
        catching_up,
        buffered: VecDeque::new(),
        ends_at: tokio::time::Instant::now() + live.settings.max_lifetime,
    };
    Ok(futures::stream::unfold(cursor, next_event))
}

fn uuid_like(text: &str) -> bool {
    text.chars().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// The next event for the stream: buffered ones first, then the rows it
/// must catch up on, then what the hub hands over; `None` (the end) when
/// access ended, the lifetime is over or the server stops.
async fn next_event(mut cursor: Cursor) -> Option<(Result<Event, Infallible>, Cursor)> {
    loop {
        if cursor.subscription.end.is_cancelled() {
            return None;
        }
        if let Some(row) = cursor.buffered.pop_front() {
            if row.id <= cursor.last {
                continue; // read from the database and handed over too
            }
            cursor.last.clone_from(&row.id);
            let event = Event::default()
                .id(row.id)
                .event(row.kind)
                .data(row.payload);
            return Some((Ok(event), cursor));
        }
        if cursor.catching_up {
            match store::stream_events_after(
                cursor.db.pool(),
                &cursor.organization_id,
                &cursor.last,
                live::PAGE,
            )
            .await
            {
                Ok(rows) => {
                    cursor.catching_up = rows.len() as i64 == live::PAGE;
                    cursor.buffered.extend(rows);
                    continue;
                }
                Err(error) => {
                    // The client reconnects with its last id.
                    tracing::warn!(%error, "inbox stream: reading events failed");
                    return None;
                }
            }
        }
        let subscription = &mut cursor.subscription;
        tokio::select! {
            biased;
            _ = subscription.end.cancelled() => return None,
            _ = tokio::time::sleep_until(cursor.ends_at) => return None,
            received = subscription.events.recv() => match received {
                Ok(row) => {
                    if row.id > cursor.last {
                        cursor.buffered.push_back((*row).clone());
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => cursor.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => return None,
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PresenceRequest {
    /// `online`, `viewing` (a conversation), `typing` (in a conversation) or `offline`.
    #[schema(pattern = "^(online|viewing|typing|offline)$", example = "viewing")]
    pub status: String,
    /// The conversation viewed or typed in.
    pub conversation_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceView {
    pub status: String,
    pub conversation_id: Option<InboxConversationId>,
}

/// Tell the organization's streams what you are doing: online, viewing
/// or typing in a conversation, offline.
#[utoipa::path(
    post, path = "/api/v1/inbox/presence", tag = "Inbox",
    security(("bearer" = [])),
    request_body = PresenceRequest,
    responses(
        (status = 200, description = "Published", body = Envelope<PresenceView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
        (status = 422, description = "An unknown status, or viewing/typing without a conversation", body = ErrorEnvelope),
    )
)]
pub async fn presence(
    State(state): State<InboxState>,
    Extension(live): Extension<Live>,
    user: Authorized<needs::UseInbox>,
    Json(body): Json<PresenceRequest>,
) -> Result<ApiSuccess<PresenceView>, ApiError> {
    let status = body.status.as_str();
    if !["online", "viewing", "typing", "offline"].contains(&status) {
        return Err(ApiError::invalid_field(
            "status",
            "must be online, viewing, typing or offline",
        ));
    }
    let conversation = match body.conversation_id.as_deref() {
        Some(id) => Some(
            crate::conversations::find(&state, &user.organization_id, id)
                .await?
                .id,
        ),
        None if matches!(status, "viewing" | "typing") => {
            return Err(ApiError::invalid_field(
                "conversation_id",
                "is required to view or type",
            ))
        }
        None => None,
    };
    live::record(
        state.db.pool(),
        &user.organization_id,
        "presence",
        serde_json::json!({ "user_id": user.user_id, "status": status, "conversation_id": conversation }),
    )
    .await?;
    live.wake(&user.organization_id).await;
    Ok(ApiSuccess::ok(PresenceView {
        status: status.to_string(),
        conversation_id: conversation,
    }))
}
