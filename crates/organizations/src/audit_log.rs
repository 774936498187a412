//! `GET /audit-log`: the organization's audit trail, newest first.

use axum::extract::State;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, PageQuery, Query};
use landlord_core::time::{parse_rfc3339, rfc3339};
use landlord_core::ApiError;
use landlord_identity::permissions::{needs, Authorized};
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// Only this action, e.g. `team.invited`.
    pub action: Option<String>,
    /// Only actions by this user id.
    pub actor: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Before this time (RFC 3339), exclusive.
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    pub action: String,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub actor_api_key_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    id: String,
    action: String,
    actor_user_id: Option<String>,
    actor_email: Option<String>,
    actor_api_key_id: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: Option<String>,
    created_at: i64,
}

/// The organization's audit log, newest first (owners and admins).
#[utoipa::path(
    get, path = "/audit-log", tag = "audit",
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
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor.clone(),
    }
    .page()?;
    let time = |field: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        value
            .as_deref()
            .map(|v| {
                parse_rfc3339(v)
                    .ok_or_else(|| ApiError::invalid_field(field, "is not an RFC 3339 time"))
            })
            .transpose()
    };
    let from = time("from", &filter.from)?;
    let to = time("to", &filter.to)?;
    let mut rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT a.id, a.action, a.actor_user_id, u.email AS actor_email, a.actor_api_key_id, \
                a.target_type, a.target_id, a.ip, a.user_agent, a.details, a.created_at \
         FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id \
         WHERE a.organization_id = $1 \
           AND ($2 = '' OR a.action = $2) \
           AND ($3 = '' OR a.actor_user_id = $3) \
           AND a.created_at >= $4 AND a.created_at < $5 \
           AND ($6 = '' OR a.id < $6) \
         ORDER BY a.id DESC LIMIT $7",
    )
    .bind(&user.organization_id)
    .bind(filter.action.as_deref().unwrap_or(""))
    .bind(filter.actor.as_deref().unwrap_or(""))
    .bind(from.unwrap_or(i64::MIN))
    .bind(to.unwrap_or(i64::MAX))
    .bind(page.cursor.as_deref().unwrap_or(""))
    .bind(page.fetch())
    .fetch_all(state.db.pool())
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.clone());
    let entries = rows
        .into_iter()
        .map(|r| AuditEntryView {
            id: r.id,
            action: r.action,
            actor_user_id: r.actor_user_id,
            actor_email: r.actor_email,
            actor_api_key_id: r.actor_api_key_id,
            target_type: r.target_type,
            target_id: r.target_id,
            ip: r.ip,
            user_agent: r.user_agent,
            details: r.details.and_then(|d| serde_json::from_str(&d).ok()),
            created_at: rfc3339(r.created_at),
        })
        .collect();
    Ok(ApiSuccess::ok(entries).with_meta(meta))
}
