//! The events' storage: writing an event (in the caller's transaction),
//! reading an organization's history, and the once-per-period guard of
//! usage thresholds.

use landlord_core::config::DatabaseKind;
use landlord_core::db::values_placeholders;
use landlord_core::ids::{EventId, OrganizationId};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

use crate::catalog::{Event, EventType};

fn encode(payload: &impl serde::Serialize) -> Result<String, sqlx::Error> {
    serde_json::to_string(payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Writes `payload` as an event of `organization_id` through `executor`:
/// pass the transaction of the change that causes it (`&mut *tx`).
pub async fn record<'c, E, P>(
    executor: E,
    organization_id: &OrganizationId,
    payload: &P,
) -> Result<EventId, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
    P: Event,
{
    insert(executor, organization_id, payload, false).await
}

/// Writes `payload` as an event that outgoing webhooks do not fan out:
/// the caller delivers it itself (a test message for one endpoint).
pub async fn record_without_dispatch<'c, E, P>(
    executor: E,
    organization_id: &OrganizationId,
    payload: &P,
) -> Result<EventId, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
    P: Event,
{
    insert(executor, organization_id, payload, true).await
}

async fn insert<'c, E, P>(
    executor: E,
    organization_id: &OrganizationId,
    payload: &P,
    dispatched: bool,
) -> Result<EventId, sqlx::Error>
where
    E: Executor<'c, Database = Any>,
    P: Event,
{
    let id = EventId::generate();
    sqlx::query(
        "INSERT INTO events (id, organization_id, type, version, payload, created_at, dispatched) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(organization_id)
    .bind(P::TYPE)
    .bind(P::TYPE.version())
    .bind(encode(payload)?)
    .bind(Timestamp::now())
    .bind(i64::from(dispatched))
    .execute(executor)
    .await?;
    Ok(id)
}

/// Rows per multi-row insert (6 parameters each, under PostgreSQL's and
/// SQLite's parameter limits).
const BATCH: usize = 1_000;

/// Writes many events of one type at once (a month's close: one
/// `invoice.created` per organization), in multi-row inserts.
pub async fn record_many<P: Event>(
    conn: &mut AnyConnection,
    events: &[(OrganizationId, P)],
) -> Result<(), sqlx::Error> {
    let now = Timestamp::now();
    for chunk in events.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO events (id, organization_id, type, version, payload, created_at) VALUES {}",
            values_placeholders(conn, chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for (organization_id, payload) in chunk {
            query = query
                .bind(EventId::generate())
                .bind(organization_id.clone())
                .bind(P::TYPE)
                .bind(P::TYPE.version())
                .bind(encode(payload)?)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// An event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: EventId,
    pub organization_id: OrganizationId,
    #[sqlx(rename = "type")]
    pub event_type: EventType,
    pub version: i64,
    /// JSON text.
    pub payload: String,
    pub created_at: Timestamp,
}

/// Which events of an organization to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventFilter<'a> {
    pub event_type: Option<EventType>,
    /// From this time, inclusive.
    pub since: Option<Timestamp>,
    /// Before this time, exclusive.
    pub until: Option<Timestamp>,
    /// Events older than this one (the page cursor).
    pub before: Option<&'a EventId>,
    pub limit: i64,
}

/// The organization's events matching `filter`, newest first.
pub async fn events<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    filter: EventFilter<'_>,
) -> Result<Vec<EventRow>, sqlx::Error> {
    // Only the filters asked for are in the statement, so that without a
    // time range the planner walks `events_org_id` backwards and stops at
    // the page (see the audit log's store).
    let mut sql = String::from(
        "SELECT id, organization_id, type, version, payload, created_at \
         FROM events WHERE organization_id = $1",
    );
    let mut next = 2;
    let mut condition = |sql: &mut String, text: &str| {
        sql.push_str(&format!(" AND {text} ${next}"));
        next += 1;
    };
    if filter.event_type.is_some() {
        condition(&mut sql, "type =");
    }
    if filter.since.is_some() {
        condition(&mut sql, "created_at >=");
    }
    if filter.until.is_some() {
        condition(&mut sql, "created_at <");
    }
    if filter.before.is_some() {
        condition(&mut sql, "id <");
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${next}"));
    let mut query = sqlx::query_as(&sql).bind(organization_id);
    if let Some(event_type) = filter.event_type {
        query = query.bind(event_type.as_str());
    }
    if let Some(since) = filter.since {
        query = query.bind(since);
    }
    if let Some(until) = filter.until {
        query = query.bind(until);
    }
    if let Some(before) = filter.before {
        query = query.bind(before.as_str());
    }
    query.bind(filter.limit).fetch_all(executor).await
}

/// One event of the organization (`None`: missing, or another's).
pub async fn event<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &EventId,
) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, organization_id, type, version, payload, created_at \
         FROM events WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// Claims the right to emit `usage.threshold_reached` for `percent` of
/// `period`: true for the first caller only (across instances: the
/// primary key decides).
pub async fn claim_usage_threshold<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    period: &str,
    percent: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO event_usage_thresholds (organization_id, period, percent, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(organization_id)
    .bind(period)
    .bind(percent)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- fan-out to outgoing webhooks -------------------------------------------------

/// An event not yet fanned out to the organization's endpoints.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Undispatched {
    pub id: EventId,
    pub organization_id: OrganizationId,
    #[sqlx(rename = "type")]
    pub event_type: EventType,
    pub created_at: Timestamp,
}

/// Whether any event waits to be dispatched (the partial index answers).
pub async fn has_undispatched<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<bool, sqlx::Error> {
    let row: Option<(EventId,)> =
        sqlx::query_as("SELECT id FROM events WHERE dispatched = 0 LIMIT 1")
            .fetch_optional(executor)
            .await?;
    Ok(row.is_some())
}

/// Up to `limit` events not yet dispatched, oldest first, read inside the
/// caller's transaction. On PostgreSQL the rows stay locked until it ends
/// and other instances skip them (`SKIP LOCKED`); SQLite's writer lock
/// (the transaction began `IMMEDIATE`) already keeps them apart.
pub async fn undispatched(
    conn: &mut AnyConnection,
    backend: DatabaseKind,
    limit: i64,
) -> Result<Vec<Undispatched>, sqlx::Error> {
    let lock = match backend {
        DatabaseKind::Postgres => " FOR UPDATE SKIP LOCKED",
        DatabaseKind::Sqlite => "",
    };
    let sql = format!(
        "SELECT id, organization_id, type, created_at FROM events WHERE dispatched = 0 \
         ORDER BY id LIMIT $1{lock}"
    );
    sqlx::query_as(&sql).bind(limit).fetch_all(conn).await
}

/// Marks `ids` dispatched (in the transaction that queued their
/// deliveries).
pub async fn mark_dispatched(conn: &mut AnyConnection, ids: &[EventId]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(BATCH) {
        let placeholders = (1..=chunk.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("UPDATE events SET dispatched = 1 WHERE id IN ({placeholders})");
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
