//! The audit log's storage: writing entries and reading an organization's.

use landlord_core::ids::{ApiKeyId, AuditEntryId, OrganizationId, UserId};
use landlord_core::Timestamp;
use sqlx::{Any, Executor};

use crate::AuditEntry;

/// Writes `entry` through `executor` (a transaction or the pool).
pub async fn record<'c, E>(executor: E, entry: AuditEntry) -> Result<(), sqlx::Error>
where
    E: Executor<'c, Database = Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, organization_id, actor_user_id, actor_api_key_id, action, \
         target_type, target_id, ip, user_agent, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(AuditEntryId::generate())
    .bind(entry.organization_id)
    .bind(entry.actor_user_id)
    .bind(entry.actor_api_key_id)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.ip)
    .bind(entry.user_agent)
    .bind(entry.details.map(|d| d.to_string()))
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(())
}

/// Which entries of an organization to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter<'a> {
    /// Only this action.
    pub action: Option<&'a str>,
    /// Only actions by this user.
    pub actor: Option<&'a UserId>,
    /// From this time, inclusive.
    pub from: Option<Timestamp>,
    /// Before this time, exclusive.
    pub to: Option<Timestamp>,
    /// Entries older than this one (the page cursor).
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// An entry as read back. (The actor's email is identity's: the list
/// completes it with one batched `landlord_identity::store::emails_of`.)
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: AuditEntryId,
    pub action: String,
    pub actor_user_id: Option<UserId>,
    pub actor_api_key_id: Option<ApiKeyId>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// JSON text.
    pub details: Option<String>,
    pub created_at: Timestamp,
}

/// The organization's entries matching `filter`, newest first.
pub async fn entries<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    filter: EntryFilter<'_>,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, action, actor_user_id, actor_api_key_id, target_type, target_id, ip, \
                user_agent, details, created_at \
         FROM audit_log \
         WHERE organization_id = $1 \
           AND ($2 = '' OR action = $2) \
           AND ($3 = '' OR actor_user_id = $3) \
           AND created_at >= $4 AND created_at < $5 \
           AND ($6 = '' OR id < $6) \
         ORDER BY id DESC LIMIT $7",
    )
    .bind(organization_id)
    .bind(filter.action.unwrap_or(""))
    .bind(filter.actor.map_or("", UserId::as_str))
    .bind(filter.from.unwrap_or(Timestamp::from_millis(i64::MIN)))
    .bind(filter.to.unwrap_or(Timestamp::from_millis(i64::MAX)))
    .bind(filter.before.unwrap_or(""))
    .bind(filter.limit)
    .fetch_all(executor)
    .await
}

/// Entries with `action`, across organizations, since `since` (operator
/// alerts: failed sign-ins per minute).
pub async fn count_action_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    action: &str,
    since: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND created_at >= $2")
            .bind(action)
            .bind(since)
            .fetch_one(executor)
            .await?;
    Ok(n)
}
