//! The organization's event history (`/o/{organization_id}/events`): owners
//! and admins (`ViewEvents`), the `GET /events` type filter and cursor
//! pages, through the same `organizations::events::events`.

use std::collections::HashMap;

use crate::events::{self, EventsFilter};
use crate::records::{event_sentence, Names};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use landlord_core::ApiError;
use landlord_events::EventType;
use landlord_identity::permissions;
use landlord_identity::store as identity_store;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Pages;
use landlord_console::base;
use landlord_console::encode;
use landlord_console::Visitor;
use landlord_console::{tenant, Gate};
use landlord_console::{FormErrors, Page, PageError};

/// Members whose emails the sentences name (others read "a former member").
const MEMBERS_NAMED: i64 = 200;

pub(super) fn routes() -> Router<Pages> {
    Router::new().route("/o/{organization_id}/events", get(history))
}

/// The page's filters as the form sends them.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct EventsQuery {
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    cursor: String,
}

impl EventsQuery {
    fn filter(&self) -> EventsFilter {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        EventsFilter {
            event_type: given(&self.event_type),
            since: None,
            until: None,
            limit: None,
            cursor: given(&self.cursor),
        }
    }

    /// The query string of the next page: this filter and `cursor`.
    fn next_page(&self, cursor: &str) -> String {
        [("type", self.event_type.as_str()), ("cursor", cursor)]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `GET /o/{organization_id}/events`: the events, newest first.
pub async fn history(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::VIEW_EVENTS)
        .map_err(|e| PageError::Forbidden(e.to_string()))?;
    let org = &user.organization_id;
    let (rows, next_cursor, errors) =
        match events::events(state.identity(), org, &query.filter()).await {
            Ok((rows, meta)) => (rows, meta.next_cursor, FormErrors::default()),
            Err(error @ ApiError::Validation { .. }) => {
                (Vec::new(), None, FormErrors::from_api(error)?)
            }
            Err(error) => return Err(error.into()),
        };
    let (mut context, _) = base(&state, &visitor, "Events", "events", Some(&membership)).await?;
    let has_errors = !errors.fields.is_empty() || errors.general.is_some();
    let status = errors.into_context(&mut context);
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    let members = identity_store::members(state.identity().db.pool(), org, None, MEMBERS_NAMED)
        .await
        .map_err(ApiError::from)?;
    let emails: HashMap<String, String> = members
        .iter()
        .map(|m| (m.user_id.to_string(), m.email.clone()))
        .collect();
    let names = Names {
        organization: membership.organization.id.as_ref(),
        members: &emails,
    };
    let rows: Vec<Value> = rows
        .iter()
        .map(|event| {
            json!({
                "id": event.id,
                "type": event.event_type,
                "version": event.version,
                "created_at": event.created_at,
                "sentence": event_sentence(
                    event.event_type.as_str(),
                    &event.payload,
                    event.event_type.description(),
                    &names,
                ),
                // The whole event, as `GET /events` answers it.
                "raw": serde_json::to_string_pretty(event).unwrap_or_default(),
            })
        })
        .collect();
    context.insert("events".into(), rows.into());
    let types: Vec<&str> = EventType::all().iter().map(|t| t.as_str()).collect();
    context.insert("types".into(), json!(types));
    context.insert(
        "filter".into(),
        serde_json::to_value(&query).map_err(ApiError::internal)?,
    );
    context.insert("filtered".into(), (!query.event_type.is_empty()).into());
    context.insert("first_page".into(), query.cursor.is_empty().into());
    context.insert(
        "next_page".into(),
        next_cursor.map(|c| query.next_page(&c)).into(),
    );
    let page = Page::render("events.html", context)?;
    Ok(if has_errors {
        page.status(status)
    } else {
        page
    })
}
