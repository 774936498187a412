//! The outgoing webhooks' tables: `webhook_endpoints`,
//! `webhook_deliveries` and `webhook_attempts`. Every query of an
//! organization's data takes its id, so another organization's ids find
//! nothing.

use landlord_core::ids::{
    EventId, OrganizationId, WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId,
};
use landlord_core::Timestamp;
use sqlx::{Any, AnyConnection, Executor};

landlord_core::text_enum!(
    /// Where a delivery (one event to one endpoint) stands.
    pub enum DeliveryStatus {
        /// Waiting for its first attempt or its next retry.
        Pending = "pending",
        Succeeded = "succeeded",
        /// Out of retries, or its endpoint was disabled.
        Failed = "failed",
    }
);

landlord_core::text_enum!(
    /// Why an attempt was made.
    pub enum AttemptCause {
        /// The first attempt or a scheduled retry.
        Scheduled = "scheduled",
        /// An owner or admin resent the message.
        Resend = "resend",
        /// Part of a recovery of everything that failed since a time.
        Recover = "recover",
        /// A test message.
        Test = "test",
    }
);

// ---- endpoints ---------------------------------------------------------------------

/// An endpoint as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: WebhookEndpointId,
    pub organization_id: OrganizationId,
    pub url: String,
    pub description: String,
    /// JSON array of catalog names; empty: every type.
    pub event_types: String,
    /// 1: enabled.
    pub enabled: i64,
    pub disabled_reason: Option<String>,
    pub secret_sealed: String,
    pub previous_secret_sealed: Option<String>,
    pub previous_secret_until: Option<Timestamp>,
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ENDPOINT_COLUMNS: &str = "id, organization_id, url, description, event_types, enabled, \
     disabled_reason, secret_sealed, previous_secret_sealed, previous_secret_until, failing_since, \
     created_at, updated_at";

/// Adds `row`.
pub async fn insert_endpoint<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &EndpointRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, \
         enabled, secret_sealed, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.url)
    .bind(&row.description)
    .bind(&row.event_types)
    .bind(row.enabled)
    .bind(&row.secret_sealed)
    .bind(row.created_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// How many endpoints the organization has (against its limit).
pub async fn count_endpoints<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1")
            .bind(organization_id)
            .fetch_one(executor)
            .await?;
    Ok(n)
}

/// A page of the organization's endpoints, newest first.
pub async fn endpoints<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    before: Option<&WebhookEndpointId>,
    limit: i64,
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
         WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3"
    ))
    .bind(organization_id)
    .bind(before.map_or("", WebhookEndpointId::as_str))
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// One endpoint of the organization.
pub async fn endpoint<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &WebhookEndpointId,
) -> Result<Option<EndpointRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND organization_id = $2"
    ))
    .bind(id)
    .bind(organization_id)
    .fetch_optional(executor)
    .await
}

/// The enabled endpoints of `organizations` (the dispatcher's fan-out).
pub async fn enabled_endpoints_of(
    conn: &mut AnyConnection,
    organizations: &[OrganizationId],
) -> Result<Vec<EndpointRow>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in organizations.chunks(500) {
        let placeholders = (1..=chunk.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE enabled = 1 AND organization_id IN ({placeholders})"
        );
        let mut query = sqlx::query_as(&sql);
        for id in chunk {
            query = query.bind(id);
        }
        rows.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// What an update writes (the whole editable part of the row).
#[derive(Debug, Clone)]
pub struct EndpointChange<'a> {
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a str,
    pub enabled: bool,
    pub disabled_reason: Option<&'a str>,
}

/// Writes `change` to the organization's endpoint; false when it has none
/// with that id. Enabling clears the failure streak.
pub async fn update_endpoint<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &WebhookEndpointId,
    change: EndpointChange<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET url = $3, description = $4, event_types = $5, \
         enabled = $6, disabled_reason = $7, \
         failing_since = CASE WHEN $6 = 1 AND enabled = 0 THEN NULL ELSE failing_since END, \
         updated_at = $8 \
         WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(change.url)
    .bind(change.description)
    .bind(change.event_types)
    .bind(i64::from(change.enabled))
    .bind(change.disabled_reason)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the organization's endpoint (its deliveries and attempts go
/// with it); false when it has none with that id.
pub async fn delete_endpoint<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &WebhookEndpointId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(organization_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the secret, keeping the old one valid until `previous_until`.
pub async fn rotate_secret<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    id: &WebhookEndpointId,
    secret_sealed: &str,
    previous_sealed: &str,
    previous_until: Timestamp,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET secret_sealed = $3, previous_secret_sealed = $4, \
         previous_secret_until = $5, updated_at = $6 WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(organization_id)
    .bind(secret_sealed)
    .bind(previous_sealed)
    .bind(previous_until)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt on the endpoint's streak: the streak's start
/// (set now when this failure begins one).
pub async fn endpoint_failed<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    now: Timestamp,
) -> Result<Option<Timestamp>, sqlx::Error> {
    let row: Option<(Option<Timestamp>,)> = sqlx::query_as(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) \
         WHERE id = $1 RETURNING failing_since",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(row.and_then(|(since,)| since))
}

/// A success ends the endpoint's failure streak.
pub async fn endpoint_succeeded<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NULL \
         WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Disables the endpoint with `reason`; true when it was enabled (the
/// caller then tells the owners, once).
pub async fn disable_endpoint<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $2, updated_at = $3 \
         WHERE id = $1 AND enabled = 1",
    )
    .bind(id)
    .bind(reason)
    .bind(Timestamp::now())
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

// ---- deliveries --------------------------------------------------------------------

/// A delivery as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: WebhookDeliveryId,
    pub organization_id: OrganizationId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    pub seq: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const DELIVERY_COLUMNS: &str =
    "id, organization_id, endpoint_id, event_id, status, attempts, seq, \
     next_attempt_at, locked_until, last_attempt_at, created_at";

/// A delivery to add.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: WebhookDeliveryId,
    pub organization_id: OrganizationId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
}

/// Adds `deliveries` (pending, due now) in multi-row inserts; one that
/// exists for its (endpoint, event) is skipped. Returns the ids added.
pub async fn insert_deliveries(
    conn: &mut AnyConnection,
    deliveries: &[NewDelivery],
    now: Timestamp,
) -> Result<Vec<WebhookDeliveryId>, sqlx::Error> {
    let mut added = Vec::with_capacity(deliveries.len());
    for chunk in deliveries.chunks(500) {
        let values = landlord_core::db::values_placeholders(conn, chunk.len(), 8);
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, organization_id, endpoint_id, event_id, status, \
             next_attempt_at, created_at, updated_at) VALUES {values} \
             ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id"
        );
        let mut query = sqlx::query_as::<_, (WebhookDeliveryId,)>(&sql);
        for delivery in chunk {
            query = query
                .bind(delivery.id.clone())
                .bind(delivery.organization_id.clone())
                .bind(delivery.endpoint_id.clone())
                .bind(delivery.event_id.clone())
                .bind(DeliveryStatus::Pending)
                .bind(now)
                .bind(now)
                .bind(now);
        }
        added.extend(
            query
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|(id,)| id),
        );
    }
    Ok(added)
}

/// The delivery of `event_id` to the organization's endpoint.
pub async fn delivery_of<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    endpoint_id: &WebhookEndpointId,
    event_id: &EventId,
) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE organization_id = $1 AND endpoint_id = $2 AND event_id = $3"
    ))
    .bind(organization_id)
    .bind(endpoint_id)
    .bind(event_id)
    .fetch_optional(executor)
    .await
}

/// The endpoint's deliveries that failed and were created since `since`,
/// oldest first, at most `limit` (a recovery).
pub async fn failed_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    endpoint_id: &WebhookEndpointId,
    since: Timestamp,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
         WHERE organization_id = $1 AND endpoint_id = $2 AND status = $3 AND created_at >= $4 \
         ORDER BY created_at, id LIMIT $5"
    ))
    .bind(organization_id)
    .bind(endpoint_id)
    .bind(DeliveryStatus::Failed)
    .bind(since)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// Makes the delivery due again now under a new `seq` (so a retry the
/// schedule had planned finds itself stale); returns the new `seq`.
pub async fn reschedule_now<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    id: &WebhookDeliveryId,
    now: Timestamp,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE webhook_deliveries SET status = $2, seq = seq + 1, next_attempt_at = $3, \
         updated_at = $3 WHERE id = $1 RETURNING seq",
    )
    .bind(id)
    .bind(DeliveryStatus::Pending)
    .bind(now)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(seq,)| seq))
}

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// This job may attempt the delivery now (it is locked until the
    /// lease ends).
    Claimed(DeliveryRow),
    /// Another attempt of the delivery is in flight: try again later.
    InFlight,
    /// Nothing to do: delivered, failed, gone, or another job owns the
    /// delivery's schedule now (a resend).
    Stale,
}

/// Locks the delivery for the job that carries `seq` until `lease_until`,
/// when it is pending under that `seq` and no attempt is in flight.
pub async fn claim(
    conn: &mut AnyConnection,
    id: &WebhookDeliveryId,
    seq: i64,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Claim, sqlx::Error> {
    let claimed: Option<DeliveryRow> = sqlx::query_as(&format!(
        "UPDATE webhook_deliveries SET locked_until = $4, updated_at = $3 \
         WHERE id = $1 AND seq = $2 AND status = 'pending' \
           AND (locked_until IS NULL OR locked_until < $3) \
         RETURNING {DELIVERY_COLUMNS}"
    ))
    .bind(id)
    .bind(seq)
    .bind(now)
    .bind(lease_until)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = claimed {
        return Ok(Claim::Claimed(row));
    }
    let current: Option<(i64, DeliveryStatus, Option<Timestamp>)> =
        sqlx::query_as("SELECT seq, status, locked_until FROM webhook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match current {
        // An attempt is in flight (also when a resend bumped the seq
        // meanwhile: the resend's job waits for that attempt to end).
        Some((_, DeliveryStatus::Pending, Some(locked))) if locked >= now => Claim::InFlight,
        _ => Claim::Stale,
    })
}

/// How an attempt ends the delivery's current step.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Succeeded,
    /// Failed; retry at this time.
    RetryAt(Timestamp),
    /// Failed for good (out of retries, or the endpoint is disabled).
    Failed,
}

/// Unlocks the delivery after an attempt and moves it on. Only the job
/// that still owns the delivery (`seq` unchanged) moves its status; after
/// a resend the attempt is counted and the resend's job goes on.
/// Returns whether the step was applied.
pub async fn finish(
    conn: &mut AnyConnection,
    id: &WebhookDeliveryId,
    seq: i64,
    step: Step,
    now: Timestamp,
) -> Result<bool, sqlx::Error> {
    let (status, next) = match step {
        Step::Succeeded => (DeliveryStatus::Succeeded, None),
        Step::RetryAt(at) => (DeliveryStatus::Pending, Some(at)),
        Step::Failed => (DeliveryStatus::Failed, None),
    };
    let applied = sqlx::query(
        "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, locked_until = NULL, \
         attempts = attempts + 1, last_attempt_at = $5, updated_at = $5 \
         WHERE id = $1 AND seq = $2",
    )
    .bind(id)
    .bind(seq)
    .bind(status)
    .bind(next)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !applied {
        sqlx::query(
            "UPDATE webhook_deliveries SET locked_until = NULL, attempts = attempts + 1, \
             last_attempt_at = $2, updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(applied)
}

/// Marks a delivery failed without an attempt (its endpoint is disabled).
pub async fn abandon(
    conn: &mut AnyConnection,
    id: &WebhookDeliveryId,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, locked_until = NULL, next_attempt_at = NULL, \
         updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(DeliveryStatus::Failed)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- attempts ----------------------------------------------------------------------

/// An attempt as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: WebhookAttemptId,
    pub organization_id: OrganizationId,
    pub endpoint_id: WebhookEndpointId,
    pub delivery_id: WebhookDeliveryId,
    pub event_id: EventId,
    pub event_type: String,
    pub attempt: i64,
    pub cause: AttemptCause,
    /// 1: a 2xx answer.
    pub succeeded: i64,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    pub attempted_at: Timestamp,
}

const ATTEMPT_COLUMNS: &str = "id, organization_id, endpoint_id, delivery_id, event_id, \
     event_type, attempt, cause, succeeded, status_code, duration_ms, response_excerpt, error, \
     attempted_at";

/// Records an attempt.
pub async fn insert_attempt<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: &AttemptRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(&row.id)
    .bind(&row.organization_id)
    .bind(&row.endpoint_id)
    .bind(&row.delivery_id)
    .bind(&row.event_id)
    .bind(&row.event_type)
    .bind(row.attempt)
    .bind(row.cause)
    .bind(row.succeeded)
    .bind(row.status_code)
    .bind(row.duration_ms)
    .bind(&row.response_excerpt)
    .bind(&row.error)
    .bind(row.attempted_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Which attempts of an endpoint to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AttemptFilter<'a> {
    /// Only the attempts of this message.
    pub event_id: Option<&'a EventId>,
    /// Only successes (`Some(true)`) or failures (`Some(false)`).
    pub succeeded: Option<bool>,
    /// Attempts older than this one (the page cursor).
    pub before: Option<&'a WebhookAttemptId>,
    pub limit: i64,
}

/// A page of the endpoint's attempts, newest first.
pub async fn attempts<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    endpoint_id: &WebhookEndpointId,
    filter: AttemptFilter<'_>,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts \
         WHERE organization_id = $1 AND endpoint_id = $2 \
           AND ($3 = '' OR event_id = $3) \
           AND ($4 < 0 OR succeeded = $4) \
           AND ($5 = '' OR id < $5) \
         ORDER BY id DESC LIMIT $6"
    ))
    .bind(organization_id)
    .bind(endpoint_id)
    .bind(filter.event_id.map_or("", EventId::as_str))
    .bind(filter.succeeded.map_or(-1, i64::from))
    .bind(filter.before.map_or("", WebhookAttemptId::as_str))
    .bind(filter.limit)
    .fetch_all(executor)
    .await
}

/// Attempts made since `since`, and how many of them failed (operator
/// alerts' webhook failure rate).
pub async fn attempt_outcomes_since<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    since: Timestamp,
) -> Result<(i64, i64), sqlx::Error> {
    let (total, failed): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN succeeded = 1 THEN 0 ELSE 1 END), 0) AS BIGINT) \
         FROM webhook_attempts WHERE attempted_at >= $1",
    )
    .bind(since)
    .fetch_one(executor)
    .await?;
    Ok((total, failed))
}

/// Deletes attempts older than `before` (the daily purge); returns how
/// many went.
pub async fn purge_attempts<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    before: Timestamp,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM webhook_attempts WHERE attempted_at < $1")
        .bind(before)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}
