//! Team storage. Every query takes the organization id from the caller's
//! tenant context and filters by it.

use landlord_core::db::now_millis;
use landlord_identity::Role;
use sqlx::{Any, AnyConnection, Executor};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: String,
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub joined_at: i64,
}

pub async fn members<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
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
    organization_id: &str,
    user_id: &str,
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
    organization_id: &str,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
    )
    .bind(organization_id)
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
    organization_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE organizations SET updated_at = $2 WHERE id = $1")
        .bind(organization_id)
        .bind(now_millis())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_role(
    conn: &mut AnyConnection,
    organization_id: &str,
    user_id: &str,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE memberships SET role = $3, updated_at = $4 WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(organization_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now_millis())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete_membership(
    conn: &mut AnyConnection,
    organization_id: &str,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(organization_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: String,
    pub invited_by: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub responded_at: Option<i64>,
}

const INVITATION_COLUMNS: &str =
    "id, organization_id, email, role, invited_by, status, created_at, expires_at, responded_at";

pub async fn invitations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<InvitationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations \
         WHERE organization_id = $1 AND ($2 = '' OR status = $2) AND ($3 = '' OR id < $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(organization_id)
    .bind(status.unwrap_or(""))
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

pub async fn invitation_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
    id: &str,
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
    id: &str,
    status: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE invitations SET status = $2, responded_at = $3 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(status)
    .bind(now_millis())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
