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
    get, path = "/api/v1/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Sessions", body = Envelope<Vec<SessionView>>))
)]
pub async fn list_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<Vec<SessionView>>, ApiError> {
    Ok(ApiSuccess::ok(sessions_of(&state, &current).await?))
}

/// The signed-in person's active sessions, most recently refreshed first,
/// `current`'s marked.
pub async fn sessions_of(
    state: &IdentityState,
    current: &CurrentUser,
) -> Result<Vec<SessionView>, ApiError> {
    let sessions = store::active_sessions(state.db.pool(), &current.user_id).await?;
    Ok(sessions
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
        .collect())
}

/// Revoke every session of the signed-in user, this one included.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = Envelope<RevokedResponse>))
)]
pub async fn revoke_all_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let revoked = revoke_sessions(&state, &current, &client, false).await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked }))
}

/// Revokes the signed-in person's sessions: every one, or every one but
/// `current`'s (`keep_current`). Answers how many; audited as
/// `auth.sessions_revoked`.
pub async fn revoke_sessions(
    state: &IdentityState,
    current: &CurrentUser,
    client: &ClientInfo,
    keep_current: bool,
) -> Result<u64, ApiError> {
    let mut tx = state.db.begin().await?;
    let families: Vec<SessionId> = store::active_sessions(&mut *tx, &current.user_id)
        .await?
        .into_iter()
        .map(|s| s.family_id)
        .filter(|id| !keep_current || id != &current.session_id)
        .collect();
    let keep = keep_current.then_some(&current.session_id);
    store::revoke_user_sessions(&mut *tx, &current.user_id, keep, "revoked_by_user").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(current, client, "auth.sessions_revoked")
            .target("user", &current.user_id)
            .details(serde_json::json!({ "sessions": families })),
    )
    .await?;
    tx.commit().await?;
    state.access_ended(&current.user_id);
    Ok(families.len() as u64)
}

/// Revoke one session of the signed-in user.
#[utoipa::path(
    delete, path = "/api/v1/auth/sessions/{id}", tag = "auth",
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
    revoke_one(&state, &current, &client, &id).await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}

/// Revokes the signed-in person's session `id` (404 for any other).
/// Audited as `auth.session_revoked`.
pub async fn revoke_one(
    state: &IdentityState,
    current: &CurrentUser,
    client: &ClientInfo,
    id: &SessionId,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    if !store::revoke_user_family(&mut *tx, &current.user_id, id, "revoked_by_user").await? {
        return Err(ApiError::not_found("session"));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(current, client, "auth.session_revoked").target("session", id),
    )
    .await?;
    tx.commit().await?;
    state.access_ended(&current.user_id);
    Ok(())
}
