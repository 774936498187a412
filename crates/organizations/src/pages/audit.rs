//! The organization's audit log (`/o/{organization_id}/audit`): owners and
//! admins (`ViewAuditLog`), the `GET /audit-log` filters (action, actor,
//! time range) and cursor pages, through the same
//! `organizations::audit_log::entries`.

use std::collections::HashMap;

use crate::audit_log::{self, AuditFilter};
use crate::records::{audit_sentence, AuditRecord, Names};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use landlord_core::ApiError;
use landlord_identity::permissions;
use landlord_identity::store as identity_store;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Pages;
use landlord_console::base;
use landlord_console::Visitor;
use landlord_console::{encode, FormErrors, Page, PageError};
use landlord_console::{tenant, Gate};

/// Members the actor filter offers.
const ACTOR_CHOICES: i64 = 200;

const DAY_MS: i64 = 24 * 3600 * 1000;

pub(super) fn routes() -> Router<Pages> {
    Router::new().route("/o/{organization_id}/audit", get(audit))
}

/// The page's filters as the form sends them: dates (`YYYY-MM-DD`, UTC)
/// rather than RFC 3339 times; `to` is the last day shown.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cursor: String,
}

/// A date of the form as the API's time: its start, or (`next_day`) the
/// start of the day after; the text as given when it is not a date, so
/// the API's check names the field.
fn day(text: &str, next_day: bool) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let start = format!("{text}T00:00:00Z");
    match landlord_core::time::parse_rfc3339(&start) {
        Some(ms) if next_day => Some(landlord_core::time::rfc3339(ms + DAY_MS)),
        Some(_) => Some(start),
        None => Some(text.to_owned()),
    }
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        AuditFilter {
            action: given(&self.action),
            actor: given(&self.actor),
            from: day(&self.from, false),
            to: day(&self.to, true),
            limit: None,
            cursor: given(&self.cursor),
        }
    }

    /// The query string of the next page: these filters and `cursor`.
    fn next_page(&self, cursor: &str) -> String {
        let pairs = [
            ("action", self.action.as_str()),
            ("actor", self.actor.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("cursor", cursor),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `GET /o/{organization_id}/audit`: the entries, newest first, filtered.
pub async fn audit(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<AuditQuery>,
) -> Result<Page, PageError> {
    let (user, membership) = tenant(&state, &visitor, &organization_id, Gate::Read).await?;
    permissions::require(&user, permissions::VIEW_AUDIT_LOG)
        .map_err(|e| PageError::Forbidden(e.to_string()))?;
    let org = &user.organization_id;
    let (entries, next_cursor, errors) =
        match audit_log::entries(state.identity(), org, &query.filter()).await {
            Ok((entries, meta)) => (entries, meta.next_cursor, FormErrors::default()),
            Err(error @ ApiError::Validation { .. }) => {
                (Vec::new(), None, FormErrors::from_api(error)?)
            }
            Err(error) => return Err(error.into()),
        };
    let members = identity_store::members(state.identity().db.pool(), org, None, ACTOR_CHOICES)
        .await
        .map_err(ApiError::from)?;
    let (mut context, _) = base(&state, &visitor, "Audit log", "audit", Some(&membership)).await?;
    let has_errors = !errors.fields.is_empty() || errors.general.is_some();
    let status = errors.into_context(&mut context);
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    let emails: HashMap<String, String> = members
        .iter()
        .map(|m| (m.user_id.to_string(), m.email.clone()))
        .collect();
    let names = Names {
        organization: membership.organization.id.as_ref(),
        members: &emails,
    };
    let rows: Vec<Value> = entries
        .iter()
        .map(|entry| {
            let mut row = serde_json::to_value(entry).unwrap_or_default();
            let actor = entry.actor_user_id.as_ref().map(ToString::to_string);
            let key = entry.actor_api_key_id.as_ref().map(ToString::to_string);
            let record = AuditRecord {
                action: &entry.action,
                actor_user_id: actor.as_deref(),
                actor_email: entry.actor_email.as_deref(),
                actor_api_key_id: key.as_deref(),
                target_type: entry.target_type.as_deref(),
                target_id: entry.target_id.as_deref(),
                details: entry.details.as_ref(),
            };
            let sentence = audit_sentence(&record, &names);
            if let Some(object) = row.as_object_mut() {
                object.insert("sentence".into(), json!(sentence));
                // The whole entry, as `GET /audit-log` answers it.
                let raw = serde_json::to_string_pretty(entry).unwrap_or_default();
                object.insert("raw".into(), raw.into());
            }
            row
        })
        .collect();
    context.insert("entries".into(), rows.into());
    let actors: Vec<Value> = members
        .iter()
        .map(|m| json!({ "id": m.user_id, "email": m.email }))
        .collect();
    context.insert("actors".into(), actors.into());
    context.insert(
        "filter".into(),
        serde_json::to_value(&query).map_err(ApiError::internal)?,
    );
    context.insert(
        "filtered".into(),
        (!(query.action.is_empty()
            && query.actor.is_empty()
            && query.from.is_empty()
            && query.to.is_empty()))
        .into(),
    );
    context.insert("first_page".into(), query.cursor.is_empty().into());
    context.insert(
        "next_page".into(),
        next_cursor.map(|c| query.next_page(&c)).into(),
    );
    let page = Page::render("audit.html", context)?;
    Ok(if has_errors {
        page.status(status)
    } else {
        page
    })
}
