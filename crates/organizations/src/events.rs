//! `GET /events`, `GET /events/{id}`: the organization's event history,
//! newest first; `GET /webhooks/event-types`: the event catalog.

use axum::extract::{Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Meta, PageQuery, Query};
use landlord_core::ids::{EventId, OrganizationId};
use landlord_core::{ApiError, Timestamp};
use landlord_events::store::{self, EventFilter, EventRow};
use landlord_events::EventType;
use landlord_identity::auth::CurrentUser;
use landlord_identity::delegated::{scope, PersonOrApp};
use landlord_identity::permissions::needs;
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsFilter {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<EventType>)]
    pub event_type: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Before this time (RFC 3339), exclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// An event of the organization's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: EventId,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub event_type: EventType,
    /// The payload's version.
    pub version: i64,
    /// The payload: the schema of its type (`EventPayload_<type>`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: Timestamp,
}

impl EventView {
    pub fn new(row: EventRow) -> Self {
        Self {
            id: row.id,
            event_type: row.event_type,
            version: row.version,
            payload: serde_json::from_str(&row.payload).unwrap_or(serde_json::Value::Null),
            created_at: row.created_at,
        }
    }
}

/// An entry of the event catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeView {
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub event_type: EventType,
    pub version: i64,
    pub description: String,
    /// The payload's JSON schema.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// `since`/`until` of the filter: an RFC 3339 time, when given.
fn time_filter(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| {
            Timestamp::parse_rfc3339(v)
                .ok_or_else(|| ApiError::invalid_field(field, "is not an RFC 3339 time"))
        })
        .transpose()
}

/// The `type` filter: a catalog type, when given.
pub fn type_filter(value: Option<&str>) -> Result<Option<EventType>, ApiError> {
    value
        .map(|v| {
            EventType::parse(v).ok_or_else(|| {
                ApiError::invalid_field("type", "is not an event type of the catalog")
            })
        })
        .transpose()
}

/// The organization's event history, newest first (owners and admins).
#[utoipa::path(
    get, path = "/api/v1/events", tag = "Events",
    security(("bearer" = [])),
    params(EventsFilter),
    responses(
        (status = 200, description = "Events; `meta.next_cursor` when more follow", body = Envelope<Vec<EventView>>),
        (status = 401, description = "Not signed in, or the app token no longer works", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_events, or the app token lacks scope events:read", body = ErrorEnvelope),
        (status = 422, description = "A filter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<IdentityState>,
    // Also an installed app's token with `events:read`.
    who: PersonOrApp<needs::ViewEvents, scope::EventsRead>,
    Query(filter): Query<EventsFilter>,
) -> Result<ApiSuccess<Vec<EventView>>, ApiError> {
    let (events, meta) = events(&state, &who.organization_id, &filter).await?;
    Ok(ApiSuccess::ok(events).with_meta(meta))
}

/// One page of the organization's events with `filter`, newest first:
/// `GET /events` and the console's events page alike. The caller checked
/// `ViewEvents`.
pub async fn events(
    state: &IdentityState,
    organization_id: &OrganizationId,
    filter: &EventsFilter,
) -> Result<(Vec<EventView>, Meta), ApiError> {
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .page()?;
    let event_type = type_filter(filter.event_type.as_deref())?;
    let since = time_filter("since", filter.since.as_deref())?;
    let until = time_filter("until", filter.until.as_deref())?;
    let before = page.cursor.as_deref().map(EventId::from_trusted);
    let mut rows = store::events(
        state.db.pool(),
        organization_id,
        EventFilter {
            event_type,
            since,
            until,
            before: before.as_ref(),
            limit: page.fetch(),
        },
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    Ok((rows.into_iter().map(EventView::new).collect(), meta))
}

/// One event of the organization (another organization's answers 404).
#[utoipa::path(
    get, path = "/api/v1/events/{id}", tag = "Events",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The event's id")),
    responses(
        (status = 200, description = "The event", body = Envelope<EventView>),
        (status = 401, description = "Not signed in, or the app token no longer works", body = ErrorEnvelope),
        (status = 403, description = "Missing permission view_events, or the app token lacks scope events:read", body = ErrorEnvelope),
        (status = 404, description = "No such event in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<IdentityState>,
    // Also an installed app's token with `events:read`.
    who: PersonOrApp<needs::ViewEvents, scope::EventsRead>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<EventView>, ApiError> {
    let not_found = || ApiError::not_found("event");
    let id = EventId::parse(&id).ok_or_else(not_found)?;
    let row = store::event(state.db.pool(), &who.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ApiSuccess::ok(EventView::new(row)))
}

/// The event catalog: every type, its version, description and payload
/// schema (any signed-in person).
#[utoipa::path(
    get, path = "/api/v1/webhooks/event-types", tag = "Events",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The catalog", body = Envelope<Vec<EventTypeView>>),
    )
)]
pub async fn event_types(_user: CurrentUser) -> ApiSuccess<Vec<EventTypeView>> {
    ApiSuccess::ok(catalog())
}

/// The catalog as shown.
pub fn catalog() -> Vec<EventTypeView> {
    EventType::all()
        .iter()
        .map(|t| EventTypeView {
            event_type: *t,
            version: t.version(),
            description: t.description().to_string(),
            schema: serde_json::to_value(t.payload_schema()).unwrap_or_default(),
        })
        .collect()
}
