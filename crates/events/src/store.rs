//! The events' storage: writing an event (in the caller's transaction),
//! reading an organization's history, and the once-per-period guard of
//! usage thresholds.

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
    let id = EventId::generate();
    sqlx::query(
        "INSERT INTO events (id, organization_id, type, version, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(organization_id)
    .bind(P::TYPE)
    .bind(P::TYPE.version())
    .bind(encode(payload)?)
    .bind(Timestamp::now())
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
    sqlx::query_as(
        "SELECT id, organization_id, type, version, payload, created_at \
         FROM events \
         WHERE organization_id = $1 \
           AND ($2 = '' OR type = $2) \
           AND created_at >= $3 AND created_at < $4 \
           AND ($5 = '' OR id < $5) \
         ORDER BY id DESC LIMIT $6",
    )
    .bind(organization_id)
    .bind(filter.event_type.map_or("", EventType::as_str))
    .bind(filter.since.unwrap_or(Timestamp::from_millis(i64::MIN)))
    .bind(filter.until.unwrap_or(Timestamp::from_millis(i64::MAX)))
    .bind(filter.before.map_or("", EventId::as_str))
    .bind(filter.limit)
    .fetch_all(executor)
    .await
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
