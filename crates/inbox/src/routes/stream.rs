//! `GET /inbox/stream`: the organization's inbox as server-sent events,
//! and `POST /inbox/presence`: who is online, viewing, typing.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json, Query};
use landlord_core::ids::{InboxConversationId, OrganizationId};
use landlord_core::{ApiError, Db};
use landlord_identity::permissions::{needs, Authorized};
use landlord_keys::KeysState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::live::{self, Live};
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
    live: Live,
    organization_id: OrganizationId,
    last: String,
    buffered: VecDeque<StreamEventRow>,
}

/// The organization's inbox events as `text/event-stream`: `id` (send
/// it back as `Last-Event-ID` to resume), `event` (`message.created`,
/// `message.status`, `conversation.created`, `conversation.updated`,
/// `presence`) and `data` (JSON). Only this organization's events.
#[utoipa::path(
    get, path = "/inbox/stream", tag = "Inbox",
    security(("bearer" = [])),
    params(
        StreamQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The last event id received: resume after it"),
    ),
    responses(
        (status = 200, description = "Server-sent events, each `id`, `event` and `data` (JSON text)", content_type = "text/event-stream", body = StreamEvent),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 422, description = "The last event id is not an event id", body = ErrorEnvelope),
    )
)]
pub async fn stream(
    State(state): State<KeysState>,
    Extension(live): Extension<Live>,
    user: Authorized<needs::UseInbox>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let asked = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or(query.last_event_id)
        .filter(|id| !id.is_empty());
    let last = match asked {
        Some(id) if id.len() == 36 && uuid_like(&id) => id,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "last_event_id",
                "is not an event id of this stream",
            ))
        }
        None => store::last_stream_event(state.db.pool(), &user.organization_id).await?,
    };
    // Say this person is online.
    live::record(
        state.db.pool(),
        &user.organization_id,
        "presence",
        serde_json::json!({ "user_id": user.user_id, "status": "online", "conversation_id": null }),
    )
    .await?;
    live.wake().await;
    Ok(Sse::new(events(
        state.db.clone(),
        live,
        user.organization_id.clone(),
        last,
    ))
    .keep_alive(KeepAlive::default()))
}

/// The organization's stream events after `last` ('' for all kept), as
/// server-sent events, until the server shuts down: the API's stream and
/// the console's (signed in by cookie) both serve it.
pub fn events(
    db: Db,
    live: Live,
    organization_id: OrganizationId,
    last: String,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let cursor = Cursor {
        db,
        live,
        organization_id,
        last,
        buffered: VecDeque::new(),
    };
    futures::stream::unfold(cursor, next_event)
}

fn uuid_like(text: &str) -> bool {
    text.chars().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    })
}

/// The next event for the stream: buffered ones first, then new rows,
/// waiting for a wake-up (or the poll interval) when there are none.
async fn next_event(mut cursor: Cursor) -> Option<(Result<Event, Infallible>, Cursor)> {
    loop {
        if let Some(row) = cursor.buffered.pop_front() {
            cursor.last = row.id.clone();
            let event = Event::default()
                .id(row.id)
                .event(row.kind)
                .data(row.payload);
            return Some((Ok(event), cursor));
        }
        let live = cursor.live.clone();
        let notified = live.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match store::stream_events_after(
            cursor.db.pool(),
            &cursor.organization_id,
            &cursor.last,
            100,
        )
        .await
        {
            Ok(rows) if !rows.is_empty() => {
                cursor.buffered.extend(rows);
                continue;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "inbox stream: reading events failed"),
        }
        tokio::select! {
            _ = live.stopping.cancelled() => return None,
            _ = &mut notified => {}
            _ = tokio::time::sleep(live.poll) => {}
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
    post, path = "/inbox/presence", tag = "Inbox",
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
    State(state): State<KeysState>,
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
    live.wake().await;
    Ok(ApiSuccess::ok(PresenceView {
        status: status.to_string(),
        conversation_id: conversation,
    }))
}
