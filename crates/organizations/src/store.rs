//! Invitations' storage. Every query takes the organization id from the
//! caller's tenant context and filters by it. Members, roles and the
//! organization itself are identity's: `landlord_identity::store`.

use landlord_core::ids::{InvitationId, OrganizationId, UserId};
use landlord_core::Timestamp;
use landlord_identity::Role;
use sqlx::{Any, AnyConnection, Executor};

landlord_core::text_enum!(
    /// Where an invitation stands, as stored. (`expired` is not stored: a
    /// pending invitation past its `expires_at` is shown as expired.)
    pub enum InvitationStatus {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
        Cancelled = "cancelled",
    }
);

// ---- invitations ------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<UserId>,
    pub status: InvitationStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub responded_at: Option<Timestamp>,
}

const INVITATION_COLUMNS: &str =
    "id, organization_id, email, role, invited_by, status, created_at, expires_at, responded_at";

/// An invitation to store, pending until `expires_at`.
#[derive(Debug, Clone, Copy)]
pub struct NewInvitation<'a> {
    pub organization_id: &'a OrganizationId,
    pub email: &'a str,
    pub role: Role,
    pub invited_by: &'a UserId,
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
}

/// Cancels the pending invitations to `email`, then stores `invitation`.
pub async fn replace_invitation(
    conn: &mut AnyConnection,
    invitation: NewInvitation<'_>,
) -> Result<InvitationId, sqlx::Error> {
    let now = Timestamp::now();
    sqlx::query(
        "UPDATE invitations SET status = $3, responded_at = $4 \
         WHERE organization_id = $1 AND email = $2 AND status = $5",
    )
    .bind(invitation.organization_id)
    .bind(invitation.email)
    .bind(InvitationStatus::Cancelled)
    .bind(now)
    .bind(InvitationStatus::Pending)
    .execute(&mut *conn)
    .await?;
    let id = InvitationId::generate();
    sqlx::query(
        "INSERT INTO invitations (id, organization_id, email, role, invited_by, token_hash, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(invitation.organization_id)
    .bind(invitation.email)
    .bind(invitation.role)
    .bind(invitation.invited_by)
    .bind(invitation.token_hash)
    .bind(InvitationStatus::Pending)
    .bind(now)
    .bind(invitation.expires_at)
    .execute(conn)
    .await?;
    Ok(id)
}

pub async fn invitations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    status: Option<InvitationStatus>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations \
         WHERE organization_id = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(organization_id)
    .bind(status.map_or("", InvitationStatus::as_str))
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

pub async fn invitation_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &InvitationId,
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE organization_id = $1 AND id = $2"
    ))
    .bind(organization_id)
    .bind(id)
    .fetch_optional(executor)
    .await
}

pub async fn invitation_by_token_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await
}

/// Moves a pending invitation to `status`; false if it was not pending.
pub async fn respond_to_invitation(
    conn: &mut AnyConnection,
    id: &InvitationId,
    status: InvitationStatus,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE invitations SET status = $2, responded_at = $3 WHERE id = $1 AND status = $4",
    )
    .bind(id)
    .bind(status)
    .bind(Timestamp::now())
    .bind(InvitationStatus::Pending)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
