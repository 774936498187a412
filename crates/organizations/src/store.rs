//! Team storage. Every query takes the organization id from the caller's
//! tenant context and filters by it.

use landlord_core::ids::{InvitationId, MembershipId, OrganizationId, UserId};
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

// ---- members ----------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: Timestamp,
}

pub async fn members<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id AS membership_id, u.id AS user_id, u.email, u.name, m.role, \
                m.created_at AS joined_at \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
    )
    .bind(organization_id)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

pub async fn member<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    user_id: &UserId,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.id AS membership_id, u.id AS user_id, u.email, u.name, m.role, \
                m.created_at AS joined_at \
         FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.user_id = $2",
    )
    .bind(organization_id)
    .bind(user_id)
    .fetch_optional(executor)
    .await
}

pub async fn owner_count(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = $2")
            .bind(organization_id)
            .bind(Role::Owner)
            .fetch_one(conn)
            .await?;
    Ok(count)
}

/// Serializes team changes of one organization: on PostgreSQL the row lock
/// makes a concurrent change wait, so "at least one owner" cannot be broken
/// by two owners demoting each other at once. (SQLite transactions that
/// write are already serialized.)
pub async fn lock_organization(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET updated_at = $2 WHERE id = $1")
        .bind(organization_id)
        .bind(Timestamp::now())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_role(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    user_id: &UserId,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE memberships SET role = $3, updated_at = $4 WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(organization_id)
    .bind(user_id)
    .bind(role)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete_membership(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    user_id: &UserId,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(organization_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

// ---- the organization -------------------------------------------------------------

/// Renames the organization and/or changes its billing email (`None`:
/// unchanged).
pub async fn update_organization<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    name: Option<&str>,
    billing_email: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET name = COALESCE($2, name), \
         billing_email = COALESCE($3, billing_email), updated_at = $4 WHERE id = $1",
    )
    .bind(organization_id)
    .bind(name)
    .bind(billing_email)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(())
}

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
