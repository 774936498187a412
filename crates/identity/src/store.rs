//! Identity's storage: the queries, written once for both databases.

use landlord_core::crypto::sha256_hex;
use landlord_core::db::now_millis;
use sqlx::{Any, AnyConnection, Executor};

use crate::model::{OrganizationRow, Role, UserRow};

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

const USER_COLUMNS: &str =
    "id, email, name, password_hash, email_verified_at, platform_admin_at, created_at";
const ORG_COLUMNS: &str = "id, name, billing_email, plan, created_at";

pub async fn user_by_email<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(executor)
    .await
}

pub async fn user_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

pub async fn organization_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &str,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// The organization's scheduled plan change, if any: the plan it moves to
/// and when (Unix ms; the end of the period it was asked in).
pub async fn scheduled_plan_change<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &str,
) -> Result<Option<(String, i64)>, sqlx::Error> {
    let row: Option<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT scheduled_plan, scheduled_plan_at FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_optional(executor)
            .await?;
    Ok(row.and_then(|(plan, at)| plan.zip(at)))
}

pub async fn insert_user(
    conn: &mut AnyConnection,
    email: &str,
    name: Option<&str>,
    password_hash: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = now_millis();
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

pub async fn insert_organization(
    conn: &mut AnyConnection,
    name: &str,
    billing_email: &str,
    plan: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = now_millis();
    sqlx::query(
        "INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(billing_email)
    .bind(plan)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

pub async fn insert_membership(
    conn: &mut AnyConnection,
    organization_id: &str,
    user_id: &str,
    role: Role,
) -> Result<(), sqlx::Error> {
    let now = now_millis();
    sqlx::query(
        "INSERT INTO memberships (id, organization_id, user_id, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(new_id())
    .bind(organization_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's role in an organization, if a member.
pub async fn role_in<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &str,
    organization_id: &str,
) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND organization_id = $2")
            .bind(user_id)
            .bind(organization_id)
            .fetch_optional(executor)
            .await?;
    Ok(role.and_then(|(r,)| Role::parse(&r)))
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: String,
    name: String,
    billing_email: Option<String>,
    plan: String,
    created_at: i64,
    role: String,
    joined_at: i64,
}

/// Every organization the user belongs to, oldest membership first, with
/// the role and the time the user joined.
pub async fn memberships<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &str,
) -> Result<Vec<(OrganizationRow, Role, i64)>, sqlx::Error> {
    let rows: Vec<MembershipRow> = sqlx::query_as(
        "SELECT o.id, o.name, o.billing_email, o.plan, o.created_at, m.role, \
                m.created_at AS joined_at \
         FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 ORDER BY m.created_at, o.id",
    )
    .bind(user_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let role = Role::parse(&row.role)?;
            let organization = OrganizationRow {
                id: row.id,
                name: row.name,
                billing_email: row.billing_email,
                plan: row.plan,
                created_at: row.created_at,
            };
            Some((organization, role, row.joined_at))
        })
        .collect())
}

// ---- refresh sessions -------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub organization_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Stores a refresh token (by hash) in `family_id`.
#[allow(clippy::too_many_arguments)]
pub async fn insert_session(
    conn: &mut AnyConnection,
    family_id: &str,
    user_id: &str,
    organization_id: &str,
    refresh_token: &str,
    expires_at: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_sessions (id, family_id, user_id, organization_id, token_hash, \
         user_agent, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(family_id)
    .bind(user_id)
    .bind(organization_id)
    .bind(sha256_hex(refresh_token))
    .bind(user_agent)
    .bind(ip)
    .bind(now_millis())
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn session_by_token(
    conn: &mut AnyConnection,
    refresh_token: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, family_id, user_id, organization_id, expires_at, used_at, revoked_at \
         FROM refresh_sessions WHERE token_hash = $1",
    )
    .bind(sha256_hex(refresh_token))
    .fetch_optional(conn)
    .await
}

/// Marks a refresh token used; false when someone else used it first.
pub async fn mark_session_used(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(now_millis())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every token of a family; returns how many were still active.
pub async fn revoke_family<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &str,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(now_millis())
    .bind(reason)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Revokes a family only if it belongs to `user_id`; returns whether any
/// active token was revoked.
pub async fn revoke_user_family<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &str,
    family_id: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND family_id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(family_id)
    .bind(now_millis())
    .bind(reason)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Revokes every session of a user, except `keep` when given.
pub async fn revoke_user_sessions<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &str,
    keep: Option<&str>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND family_id <> $4",
    )
    .bind(user_id)
    .bind(now_millis())
    .bind(reason)
    .bind(keep.unwrap_or(""))
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Whether a session family still has an unrevoked token.
pub async fn family_active<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM refresh_sessions WHERE family_id = $1 AND revoked_at IS NULL LIMIT 1",
    )
    .bind(family_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.is_some())
}

/// One row per active session family of a user: its first and last tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionSummary {
    pub family_id: String,
    pub started_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn active_sessions<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &str,
) -> Result<Vec<SessionSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT family_id, MIN(created_at) AS started_at, MAX(created_at) AS last_used_at, \
                MAX(expires_at) AS expires_at, MAX(ip) AS ip, MAX(user_agent) AS user_agent \
         FROM refresh_sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         GROUP BY family_id ORDER BY MAX(created_at) DESC",
    )
    .bind(user_id)
    .bind(now_millis())
    .fetch_all(executor)
    .await
}

/// Moves a session to another active organization.
pub async fn switch_session_organization<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &str,
    organization_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_sessions SET organization_id = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(organization_id)
    .execute(executor)
    .await?;
    Ok(())
}

// ---- one-time tokens ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    EmailVerification,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email_verification",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// Stores a new one-time token (by hash), retiring the user's earlier
/// unused ones of the same purpose.
pub async fn insert_one_time_token(
    conn: &mut AnyConnection,
    user_id: &str,
    purpose: Purpose,
    token: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let now = now_millis();
    sqlx::query(
        "UPDATE one_time_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO one_time_tokens (id, user_id, purpose, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(sha256_hex(token))
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Why a one-time token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Unknown,
    Used,
    Expired,
}

/// Consumes a one-time token: returns its user, or why it cannot be used.
/// Whose the token is, if it could be used now; changes nothing (cheap
/// check before expensive work; [`consume_one_time_token`] decides).
pub async fn peek_one_time_token<'e, E>(
    executor: E,
    purpose: Purpose,
    token: &str,
) -> Result<Result<String, TokenProblem>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT user_id, expires_at, used_at FROM one_time_tokens \
         WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(sha256_hex(token))
    .bind(purpose.as_str())
    .fetch_optional(executor)
    .await?;
    Ok(match row {
        None => Err(TokenProblem::Unknown),
        Some((_, _, Some(_))) => Err(TokenProblem::Used),
        Some((_, expires_at, None)) if expires_at <= now_millis() => Err(TokenProblem::Expired),
        Some((user_id, _, None)) => Ok(user_id),
    })
}

pub async fn consume_one_time_token(
    conn: &mut AnyConnection,
    purpose: Purpose,
    token: &str,
) -> Result<Result<String, TokenProblem>, sqlx::Error> {
    let row: Option<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, user_id, expires_at, used_at FROM one_time_tokens \
         WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(sha256_hex(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, user_id, expires_at, used_at)) = row else {
        return Ok(Err(TokenProblem::Unknown));
    };
    if used_at.is_some() {
        return Ok(Err(TokenProblem::Used));
    }
    let now = now_millis();
    if expires_at <= now {
        return Ok(Err(TokenProblem::Expired));
    }
    let result =
        sqlx::query("UPDATE one_time_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(&id)
            .bind(now)
            .execute(conn)
            .await?;
    if result.rows_affected() != 1 {
        return Ok(Err(TokenProblem::Used));
    }
    Ok(Ok(user_id))
}
