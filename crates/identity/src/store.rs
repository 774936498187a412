//! Identity's storage: the queries, written once for both databases.
//!
//! Identity owns `users`, `organizations` (their creation, reading, name
//! and billing email, and plan columns, which billing moves through these
//! functions), `memberships` (the team changes organizations makes go
//! through these functions too), `refresh_sessions`, `one_time_tokens`
//! and `console_flashes` (the console's one-time notices, which belong to
//! a session). Other features reach them through these functions.

use landlord_core::config::DatabaseKind;
use landlord_core::crypto::sha256_hex;
use landlord_core::ids::{
    FlashId, MembershipId, OneTimeTokenId, OrganizationId, RefreshTokenId, SessionId, UserId,
};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use crate::model::{OrganizationRow, Role, UserRow};

const USER_COLUMNS: &str =
    "id, email, name, password_hash, email_verified_at, platform_admin_at, created_at";
const ORG_COLUMNS: &str = "id, name, billing_email, plan, created_at";

// ---- users ----------------------------------------------------------------------

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
    id: &UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
}

/// The email of each of `ids` that has an account, for lists that show who
/// did something (the keys list's creators).
pub async fn emails_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    ids: &[UserId],
) -> Result<Vec<(UserId, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, email FROM users WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query.fetch_all(executor).await
}

pub async fn insert_user(
    conn: &mut AnyConnection,
    email: &str,
    name: Option<&str>,
    password_hash: &str,
) -> Result<UserId, sqlx::Error> {
    let id = UserId::generate();
    sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(id)
}

pub async fn set_password_hash<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(password_hash)
        .bind(Timestamp::now())
        .execute(executor)
        .await?;
    Ok(())
}

/// Sets the user's display name.
pub async fn set_user_name<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET name = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(name)
        .bind(Timestamp::now())
        .execute(executor)
        .await?;
    Ok(())
}

/// Marks the user's email verified (now), unless it already was.
pub async fn mark_email_verified<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET email_verified_at = $2, updated_at = $2 \
         WHERE id = $1 AND email_verified_at IS NULL",
    )
    .bind(user_id)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(())
}

// ---- organizations ----------------------------------------------------------------

pub async fn organization_by_id<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &OrganizationId,
) -> Result<Option<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
}

/// Organizations whose name, billing email or a member's email contains
/// `query` (letter case ignored; empty: every one), on `plan` (empty: any),
/// newest first, at most `limit`: the operator's search.
pub async fn search_organizations<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    query: &str,
    plan: &str,
    limit: i64,
) -> Result<Vec<OrganizationRow>, sqlx::Error> {
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE \
         ($1 = '' OR LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(billing_email, '')) LIKE $2 ESCAPE '\\' \
          OR id IN (SELECT m.organization_id FROM memberships m JOIN users u ON u.id = m.user_id \
                    WHERE u.email LIKE $2 ESCAPE '\\')) \
         AND ($3 = '' OR plan = $3) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(query)
    .bind(format!("%{escaped}%"))
    .bind(plan)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The organization's scheduled plan change, if any: the plan it moves to
/// and when (the end of the period it was asked in).
pub async fn scheduled_plan_change<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Option<(String, Timestamp)>, sqlx::Error> {
    let row: Option<(Option<String>, Option<Timestamp>)> =
        sqlx::query_as("SELECT scheduled_plan, scheduled_plan_at FROM organizations WHERE id = $1")
            .bind(organization_id)
            .fetch_optional(executor)
            .await?;
    Ok(row.and_then(|(plan, at)| plan.zip(at)))
}

pub async fn insert_organization(
    conn: &mut AnyConnection,
    name: &str,
    billing_email: &str,
    plan: &str,
) -> Result<OrganizationId, sqlx::Error> {
    let id = OrganizationId::generate();
    sqlx::query(
        "INSERT INTO organizations (id, name, billing_email, plan, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(billing_email)
    .bind(plan)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(id)
}

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

/// Holds the organization's row until the transaction ends without
/// changing it, so that another feature's count against a per-organization
/// limit and the insert it allows are one decision: a concurrent request
/// (on any instance) waits here, then counts this one. PostgreSQL locks
/// the row (`FOR UPDATE`); SQLite's transaction already holds the one
/// writer lock (it began `IMMEDIATE`).
pub async fn hold_organization(
    conn: &mut AnyConnection,
    backend: DatabaseKind,
    organization_id: &OrganizationId,
) -> Result<(), sqlx::Error> {
    if backend == DatabaseKind::Postgres {
        sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(organization_id)
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

/// The same for a person's row (a per-person limit, such as a cart's).
pub async fn hold_user(
    conn: &mut AnyConnection,
    backend: DatabaseKind,
    user_id: &UserId,
) -> Result<(), sqlx::Error> {
    if backend == DatabaseKind::Postgres {
        sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

// ---- memberships ------------------------------------------------------------------

pub async fn insert_membership(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    user_id: &UserId,
    role: Role,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO memberships (id, organization_id, user_id, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(MembershipId::generate())
    .bind(organization_id)
    .bind(user_id)
    .bind(role)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's role in an organization, if a member.
pub async fn role_in<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    organization_id: &OrganizationId,
) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<(Role,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND organization_id = $2")
            .bind(user_id)
            .bind(organization_id)
            .fetch_optional(executor)
            .await?;
    Ok(role.map(|(role,)| role))
}

/// One organization a user belongs to.
#[derive(Debug, Clone)]
pub struct Membership {
    pub organization: OrganizationRow,
    pub role: Role,
    pub joined_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    organization: OrganizationRow,
    role: Role,
    joined_at: Timestamp,
}

/// Every organization the user belongs to, oldest membership first, with
/// the role and the time the user joined.
pub async fn memberships<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<Vec<Membership>, sqlx::Error> {
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
        .map(|row| Membership {
            organization: row.organization,
            role: row.role,
            joined_at: row.joined_at,
        })
        .collect())
}

// ---- members of an organization (the team's view of memberships) -------------------

/// A member of an organization: the membership and the person.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: MembershipId,
    pub user_id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub joined_at: Timestamp,
}

const MEMBER_COLUMNS: &str = "m.id AS membership_id, u.id AS user_id, u.email, u.name, m.role, \
     m.created_at AS joined_at";

/// The organization's members after the membership `after`, in the order
/// they joined (membership id order), at most `limit`.
pub async fn members<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3"
    ))
    .bind(organization_id)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The user as a member of the organization, if they are one.
pub async fn member<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    user_id: &UserId,
) -> Result<Option<MemberRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.user_id = $2"
    ))
    .bind(organization_id)
    .bind(user_id)
    .fetch_optional(executor)
    .await
}

/// How many owners the organization has.
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

/// Gives the member `role`; false when the user is not a member.
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

/// Ends the user's membership; false when the user was not a member.
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

// ---- refresh sessions -------------------------------------------------------

/// One refresh token of a session family.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: RefreshTokenId,
    pub family_id: SessionId,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A refresh token to store, in the session family `family_id`.
#[derive(Debug, Clone, Copy)]
pub struct NewRefreshToken<'a> {
    pub family_id: &'a SessionId,
    pub user_id: &'a UserId,
    pub organization_id: &'a OrganizationId,
    pub refresh_token: &'a str,
    pub expires_at: Timestamp,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Stores a refresh token (by hash).
pub async fn insert_session(
    conn: &mut AnyConnection,
    token: NewRefreshToken<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_sessions (id, family_id, user_id, organization_id, token_hash, \
         user_agent, ip, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(RefreshTokenId::generate())
    .bind(token.family_id)
    .bind(token.user_id)
    .bind(token.organization_id)
    .bind(sha256_hex(token.refresh_token))
    .bind(token.user_agent)
    .bind(token.ip)
    .bind(Timestamp::now())
    .bind(token.expires_at)
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
pub async fn mark_session_used(
    conn: &mut AnyConnection,
    id: &RefreshTokenId,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every token of a family; returns how many were still active.
pub async fn revoke_family<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &SessionId,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(Timestamp::now())
    .bind(reason)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Revokes a family only if it belongs to `user_id`; returns whether any
/// active token was revoked.
pub async fn revoke_user_family<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    family_id: &SessionId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND family_id = $2 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(family_id)
    .bind(Timestamp::now())
    .bind(reason)
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Revokes every session of a user, except `keep` when given.
pub async fn revoke_user_sessions<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
    keep: Option<&SessionId>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND family_id <> $4",
    )
    .bind(user_id)
    .bind(Timestamp::now())
    .bind(reason)
    .bind(keep.map_or("", SessionId::as_str))
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Whether a session family still has an unrevoked token.
pub async fn family_active<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &SessionId,
) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM refresh_sessions WHERE family_id = $1 AND revoked_at IS NULL LIMIT 1",
    )
    .bind(family_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.is_some())
}

/// Of `families`, those that still give access to `organization_id`: a
/// token neither revoked nor expired, and its person still a member. One
/// statement for many sessions (a module's live streams re-check all of an
/// organization's at once), in chunks of 200 ids.
pub async fn live_families_in(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    families: &[SessionId],
) -> Result<Vec<SessionId>, sqlx::Error> {
    let now = Timestamp::now();
    let mut live = Vec::new();
    for chunk in families.chunks(200) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT DISTINCT s.family_id FROM refresh_sessions s \
             JOIN memberships m ON m.user_id = s.user_id AND m.organization_id = $1 \
             WHERE s.revoked_at IS NULL AND s.expires_at > $2 AND s.family_id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (SessionId,)>(&sql)
            .bind(organization_id)
            .bind(now);
        for family in chunk {
            query = query.bind(family);
        }
        live.extend(
            query
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id,)| id),
        );
    }
    Ok(live)
}

/// One row per active session family of a user: its first and last tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionSummary {
    pub family_id: SessionId,
    pub started_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub async fn active_sessions<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> Result<Vec<SessionSummary>, sqlx::Error> {
    sqlx::query_as(
        "SELECT family_id, MIN(created_at) AS started_at, MAX(created_at) AS last_used_at, \
                MAX(expires_at) AS expires_at, MAX(ip) AS ip, MAX(user_agent) AS user_agent \
         FROM refresh_sessions \
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         GROUP BY family_id ORDER BY MAX(created_at) DESC",
    )
    .bind(user_id)
    .bind(Timestamp::now())
    .fetch_all(executor)
    .await
}

/// Moves a session to another active organization.
pub async fn switch_session_organization<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    family_id: &SessionId,
    organization_id: &OrganizationId,
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

landlord_core::text_enum!(
    /// What a one-time token is for.
    pub enum Purpose {
        EmailVerification = "email_verification",
        PasswordReset = "password_reset",
    }
);

/// Stores a new one-time token (by hash), retiring the user's earlier
/// unused ones of the same purpose.
pub async fn insert_one_time_token(
    conn: &mut AnyConnection,
    user_id: &UserId,
    purpose: Purpose,
    token: &str,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    sqlx::query(
        "UPDATE one_time_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO one_time_tokens (id, user_id, purpose, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(OneTimeTokenId::generate())
    .bind(user_id)
    .bind(purpose)
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

#[derive(sqlx::FromRow)]
struct OneTimeTokenRow {
    id: OneTimeTokenId,
    user_id: UserId,
    expires_at: Timestamp,
    used_at: Option<Timestamp>,
}

impl OneTimeTokenRow {
    fn problem(&self, now: Timestamp) -> Option<TokenProblem> {
        if self.used_at.is_some() {
            Some(TokenProblem::Used)
        } else if self.expires_at <= now {
            Some(TokenProblem::Expired)
        } else {
            None
        }
    }
}

async fn one_time_token<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    purpose: Purpose,
    token: &str,
) -> Result<Option<OneTimeTokenRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, user_id, expires_at, used_at FROM one_time_tokens \
         WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(sha256_hex(token))
    .bind(purpose)
    .fetch_optional(executor)
    .await
}

/// Whose the token is, if it could be used now; changes nothing (cheap
/// check before expensive work; [`consume_one_time_token`] decides).
pub async fn peek_one_time_token<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    purpose: Purpose,
    token: &str,
) -> Result<Result<UserId, TokenProblem>, sqlx::Error> {
    let Some(row) = one_time_token(executor, purpose, token).await? else {
        return Ok(Err(TokenProblem::Unknown));
    };
    Ok(match row.problem(Timestamp::now()) {
        Some(problem) => Err(problem),
        None => Ok(row.user_id),
    })
}

/// Consumes a one-time token: returns its user, or why it cannot be used.
pub async fn consume_one_time_token(
    conn: &mut AnyConnection,
    purpose: Purpose,
    token: &str,
) -> Result<Result<UserId, TokenProblem>, sqlx::Error> {
    let Some(row) = one_time_token(&mut *conn, purpose, token).await? else {
        return Ok(Err(TokenProblem::Unknown));
    };
    let now = Timestamp::now();
    if let Some(problem) = row.problem(now) {
        return Ok(Err(problem));
    }
    let result =
        sqlx::query("UPDATE one_time_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
            .bind(&row.id)
            .bind(now)
            .execute(conn)
            .await?;
    if result.rows_affected() != 1 {
        return Ok(Err(TokenProblem::Used));
    }
    Ok(Ok(row.user_id))
}

// ---- organizations' plans (billing moves them through these) ----------------------

/// Moves the organization to `plan` now, dropping any scheduled change.
pub async fn set_plan(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    plan: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET plan = $2, scheduled_plan = NULL, scheduled_plan_at = NULL, \
         scheduled_by = NULL, updated_at = $3 WHERE id = $1",
    )
    .bind(organization_id)
    .bind(plan)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Schedules a move to `plan` at `at` (replacing any scheduled one).
pub async fn schedule_plan(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    plan: &str,
    at: Timestamp,
    by: &UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE organizations SET scheduled_plan = $2, scheduled_plan_at = $3, scheduled_by = $4, updated_at = $5 \
         WHERE id = $1",
    )
    .bind(organization_id)
    .bind(plan)
    .bind(at)
    .bind(by)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops the scheduled move to `plan` at `at`, if it is still the one
/// scheduled; returns whether it was.
pub async fn clear_scheduled_plan(
    conn: &mut AnyConnection,
    organization_id: &OrganizationId,
    plan: &str,
    at: Timestamp,
) -> Result<bool, sqlx::Error> {
    let cleared = sqlx::query(
        "UPDATE organizations SET scheduled_plan = NULL, scheduled_plan_at = NULL, scheduled_by = NULL, updated_at = $4 \
         WHERE id = $1 AND scheduled_plan = $2 AND scheduled_plan_at = $3",
    )
    .bind(organization_id)
    .bind(plan)
    .bind(at)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(cleared.rows_affected() > 0)
}

/// A plan change scheduled for the end of a period.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduledPlan {
    #[sqlx(rename = "id")]
    pub organization_id: OrganizationId,
    /// The plan in force until then.
    pub plan: String,
    pub scheduled_plan: String,
    pub scheduled_plan_at: Timestamp,
    pub scheduled_by: Option<UserId>,
}

/// The scheduled plan changes due at or before `until`.
pub async fn scheduled_plans_due<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    until: Timestamp,
) -> Result<Vec<ScheduledPlan>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, plan, scheduled_plan, scheduled_plan_at, scheduled_by FROM organizations \
         WHERE scheduled_plan IS NOT NULL AND scheduled_plan_at <= $1 ORDER BY id",
    )
    .bind(until)
    .fetch_all(executor)
    .await
}

/// Moves the organization to its scheduled plan, if the schedule is still
/// the one read (neither applied nor cancelled meanwhile, elsewhere).
pub async fn apply_scheduled_plan(
    conn: &mut AnyConnection,
    change: &ScheduledPlan,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE organizations SET plan = $2, scheduled_plan = NULL, scheduled_plan_at = NULL, \
         scheduled_by = NULL, updated_at = $5 \
         WHERE id = $1 AND plan = $3 AND scheduled_plan = $2 AND scheduled_plan_at = $4",
    )
    .bind(&change.organization_id)
    .bind(&change.scheduled_plan)
    .bind(&change.plan)
    .bind(change.scheduled_plan_at)
    .bind(Timestamp::now())
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Organizations created before `before` (those a period ending then bills).
pub async fn organizations_created_before<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    before: Timestamp,
) -> Result<Vec<OrganizationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE created_at < $1 ORDER BY id"
    ))
    .bind(before)
    .fetch_all(executor)
    .await
}

/// How many organizations are on each plan.
pub async fn organizations_by_plan<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT plan, COUNT(*) FROM organizations GROUP BY plan")
        .fetch_all(executor)
        .await
}

/// The email addresses of the organization's owners.
pub async fn owner_emails<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.organization_id = $1 AND m.role = $2",
    )
    .bind(organization_id)
    .bind(Role::Owner)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(|(email,)| email).collect())
}

// ---- operators and housekeeping ---------------------------------------------------

/// Designates the account with `email` a platform administrator; false when
/// there is none, or it already is one.
pub async fn grant_platform_admin<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    email: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE users SET platform_admin_at = $2 WHERE email = $1 AND platform_admin_at IS NULL",
    )
    .bind(email)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(result.rows_affected() > 0)
}

/// Deletes one-time tokens expired or used before `spent_before` and
/// refresh sessions expired before `now`; returns how many went.
pub async fn purge_expired(
    conn: &mut AnyConnection,
    now: Timestamp,
    spent_before: Timestamp,
) -> Result<u64, sqlx::Error> {
    let tokens = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at < $1 OR used_at < $1")
        .bind(spent_before)
        .execute(&mut *conn)
        .await?;
    let sessions = sqlx::query("DELETE FROM refresh_sessions WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(tokens.rows_affected() + sessions.rows_affected())
}

// ---- the console's one-time notices -------------------------------------------------

/// A one-time notice, as stored: `sealed` is the secret it carries, sealed
/// by the caller (never plain text).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlashRow {
    pub id: FlashId,
    pub notice: String,
    pub kind: Option<String>,
    pub details: Option<String>,
    pub sealed: Option<String>,
}

/// Stores `flash` for `owner` (a session id, or a signed-out browser's
/// value) until `expires_at`, replacing the owner's earlier ones (the
/// latest action is the one to tell) and purging every expired one.
pub async fn put_flash(
    conn: &mut AnyConnection,
    owner: &str,
    flash: &FlashRow,
    expires_at: Timestamp,
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    sqlx::query("DELETE FROM console_flashes WHERE session_id = $1 OR expires_at <= $2")
        .bind(owner)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO console_flashes (id, session_id, notice, kind, details, sealed, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&flash.id)
    .bind(owner)
    .bind(&flash.notice)
    .bind(&flash.kind)
    .bind(&flash.details)
    .bind(&flash.sealed)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes `owner`'s notice: reads the newest and deletes it (a page with
/// nothing waiting writes nothing). `None` when there is none, when it
/// expired (then it and every other expired one are deleted), or when a
/// concurrent request of the same owner took it first (each notice is
/// shown once).
pub async fn take_flash(
    conn: &mut AnyConnection,
    owner: &str,
    now: Timestamp,
) -> Result<Option<FlashRow>, sqlx::Error> {
    let row: Option<(FlashRow, Timestamp)> = sqlx::query_as::<_, FlashWithExpiry>(
        "SELECT id, notice, kind, details, sealed, expires_at FROM console_flashes \
         WHERE session_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await?
    .map(|found| (found.row, found.expires_at));
    let Some((row, expires_at)) = row else {
        return Ok(None);
    };
    let taken = sqlx::query("DELETE FROM console_flashes WHERE id = $1")
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
    if expires_at <= now {
        sqlx::query("DELETE FROM console_flashes WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *conn)
            .await?;
        return Ok(None);
    }
    Ok((taken.rows_affected() == 1).then_some(row))
}

/// A stored notice and when it expires.
#[derive(sqlx::FromRow)]
struct FlashWithExpiry {
    #[sqlx(flatten)]
    row: FlashRow,
    expires_at: Timestamp,
}
