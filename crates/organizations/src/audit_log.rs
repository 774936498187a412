//! `GET /audit-log`: the organization's audit trail, newest first.

use std::collections::HashMap;

use axum::extract::State;
use landlord_audit::store::{self, EntryFilter, EntryRow};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Meta, PageQuery, Query};
use landlord_core::ids::{ApiKeyId, AuditEntryId, OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::{store as identity_store, IdentityState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this action, e.g. `team.invited`.
    pub action: Option<String>,
    /// Only actions by this user id.
    pub actor: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before this time (RFC 3339), exclusive.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page (left out or empty: the first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: AuditEntryId,
    pub action: String,
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub actor_api_key_id: Option<ApiKeyId>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub created_at: Timestamp,
}

impl AuditEntryView {
    /// The entry as shown, with its actor's email (`None`: no acting user,
    /// or one whose account is gone).
    fn new(row: EntryRow, actor_email: Option<String>) -> Self {
        Self {
            id: row.id,
            action: row.action,
            actor_user_id: row.actor_user_id,
            actor_email,
            actor_api_key_id: row.actor_api_key_id,
            target_type: row.target_type,
            target_id: row.target_id,
            ip: row.ip,
            user_agent: row.user_agent,
            details: row.details.and_then(|d| serde_json::from_str(&d).ok()),
            created_at: row.created_at,
        }
    }
}

/// The emails of the page's actors, in one query to identity.
async fn actor_emails(
    reader: &sqlx::AnyPool,
    rows: &[EntryRow],
) -> Result<HashMap<UserId, String>, sqlx::Error> {
    let mut ids: Vec<UserId> = rows
        .iter()
        .filter_map(|r| r.actor_user_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(identity_store::emails_of(reader, &ids)
        .await?
        .into_iter()
        .collect())
}

/// `from`/`to` of the filter: an RFC 3339 time, when given.
fn time_filter(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| {
            Timestamp::parse_rfc3339(v)
                .ok_or_else(|| ApiError::invalid_field(field, "is not an RFC 3339 time"))
        })
        .transpose()
}

/// The organization's audit log, newest first (owners and admins).
#[utoipa::path(
    get, path = "/api/v1/audit-log", tag = "audit",
    security(("bearer" = [])),
    params(AuditFilter),
    responses(
        (status = 200, description = "Entries; `meta.next_cursor` when more follow", body = Envelope<Vec<AuditEntryView>>),
        (status = 403, description = "Missing permission view_audit_log", body = ErrorEnvelope),
        (status = 422, description = "A filter is invalid", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<IdentityState>,
    user: Authorized<needs::ViewAuditLog>,
    Query(filter): Query<AuditFilter>,
) -> Result<ApiSuccess<Vec<AuditEntryView>>, ApiError> {
    let (entries, meta) = entries(&state, &user.organization_id, &filter).await?;
    Ok(ApiSuccess::ok(entries).with_meta(meta))
}

/// One page of the organization's audit log with `filter` (action, actor,
/// time range, cursor), newest first: `GET /audit-log` and the console's
/// audit page alike. The caller checked `ViewAuditLog`.
pub async fn entries(
    state: &IdentityState,
    organization_id: &OrganizationId,
    filter: &AuditFilter,
) -> Result<(Vec<AuditEntryView>, Meta), ApiError> {
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .page()?;
    let from = time_filter("from", filter.from.as_deref())?;
    let to = time_filter("to", filter.to.as_deref())?;
    // An actor that is not a user id matches no entry.
    let actor = match filter.actor.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(text) => match UserId::parse(text) {
            Some(id) => Some(id),
            None => return Ok((Vec::new(), Meta::default())),
        },
    };
    let entry_filter = EntryFilter {
        action: filter.action.as_deref(),
        actor: actor.as_ref(),
        from,
        to,
        before: page.cursor.as_deref(),
        limit: page.fetch(),
    };
    // The log tolerates lag: a replica may answer when one is configured.
    let (mut rows, emails) = state
        .db
        .read(|reader| {
            let entry_filter = entry_filter.clone();
            async move {
                let rows = store::entries(&reader, organization_id, entry_filter).await?;
                let emails = actor_emails(&reader, &rows).await?;
                Ok((rows, emails))
            }
        })
        .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let views = rows
        .into_iter()
        .map(|r| {
            let email = r
                .actor_user_id
                .as_ref()
                .and_then(|id| emails.get(id).cloned());
            AuditEntryView::new(r, email)
        })
        .collect();
    Ok((views, meta))
}
