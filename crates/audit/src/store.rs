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
    // Only the filters asked for are in the statement: an optional filter
    // written `($n = '' OR …)` or a time range bound to the whole i64 range
    // keeps the planner on the time index, which reads and sorts all of the
    // organization's entries; without them it walks `audit_log_org_id`
    // backwards and stops at the page.
    // An empty text is no filter (as it always was).
    let action = filter.action.filter(|a| !a.is_empty());
    let before = filter.before.filter(|b| !b.is_empty());
    let mut sql = String::from(
        "SELECT id, action, actor_user_id, actor_api_key_id, target_type, target_id, ip, \
                user_agent, details, created_at \
         FROM audit_log WHERE organization_id = $1",
    );
    let mut next = 2;
    let mut condition = |sql: &mut String, text: &str| {
        sql.push_str(&format!(" AND {text} ${next}"));
        next += 1;
    };
    if action.is_some() {
        condition(&mut sql, "action =");
    }
    if filter.actor.is_some() {
        condition(&mut sql, "actor_user_id =");
    }
    if filter.from.is_some() {
        condition(&mut sql, "created_at >=");
    }
    if filter.to.is_some() {
        condition(&mut sql, "created_at <");
    }
    if before.is_some() {
        condition(&mut sql, "id <");
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${next}"));
    let mut query = sqlx::query_as(&sql).bind(organization_id);
    if let Some(action) = action {
        query = query.bind(action);
    }
    if let Some(actor) = filter.actor {
        query = query.bind(actor.as_str());
    }
    if let Some(from) = filter.from {
        query = query.bind(from);
    }
    if let Some(to) = filter.to {
        query = query.bind(to);
    }
    if let Some(before) = before {
        query = query.bind(before);
    }
    query.bind(filter.limit).fetch_all(executor).await
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
