//! The signed-in user's sessions: `GET`/`DELETE /auth/sessions`,
//! `DELETE /auth/sessions/{id}`.

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope};
use landlord_core::ids::SessionId;
use landlord_core::{ApiError, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::RevokedResponse;
use crate::auth::CurrentUser;
use crate::store;
use crate::IdentityState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (for `DELETE /auth/sessions/{id}`).
    pub id: SessionId,
    pub started_at: Timestamp,
    pub last_refreshed_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the access token making this request.
    pub current: bool,
}

/// The signed-in user's active sessions, most recently refreshed first.
#[utoipa::path(
    get, path = "/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Sessions", body = Envelope<Vec<SessionView>>))
)]
pub async fn list_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<Vec<SessionView>>, ApiError> {
    let sessions = store::active_sessions(state.db.pool(), &current.user_id).await?;
    Ok(ApiSuccess::ok(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.family_id == current.session_id,
                id: s.family_id,
                started_at: s.started_at,
                last_refreshed_at: s.last_used_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Revoke every session of the signed-in user, this one included.
#[utoipa::path(
    delete, path = "/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = Envelope<RevokedResponse>))
)]
pub async fn revoke_all_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let mut tx = state.db.begin().await?;
    let families: Vec<SessionId> = store::active_sessions(&mut *tx, &current.user_id)
        .await?
        .into_iter()
        .map(|s| s.family_id)
        .collect();
    store::revoke_user_sessions(&mut *tx, &current.user_id, None, "revoked_by_user").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.sessions_revoked")
            .target("user", &current.user_id)
            .details(serde_json::json!({ "sessions": families })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse {
        revoked: families.len() as u64,
    }))
}

/// Revoke one session of the signed-in user.
#[utoipa::path(
    delete, path = "/auth/sessions/{id}", tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Revoked", body = Envelope<RevokedResponse>),
        (status = 404, description = "No such active session of yours", body = ErrorEnvelope),
    )
)]
pub async fn revoke_session(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let id = SessionId::parse(&id).ok_or_else(|| ApiError::not_found("session"))?;
    let mut tx = state.db.begin().await?;
    if !store::revoke_user_family(&mut *tx, &current.user_id, &id, "revoked_by_user").await? {
        return Err(ApiError::not_found("session"));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.session_revoked").target("session", &id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}
