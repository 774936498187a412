//! `Idempotency-Key` for POSTs that must happen once: a replay within 24
//! hours answers the first answer again; the same key with another body
//! answers 409 IDEMPOTENCY_CONFLICT.
//!
//! A route wraps its work in [`idempotent`], which claims the key, replays
//! or runs the work, then stores its answer or releases the key.

use std::future::Future;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::crypto::sha256_hex;
use crate::error::ApiError;
use crate::http::ApiSuccess;
use crate::ids::OrganizationId;
use crate::{Db, Timestamp};

mod store;

/// Where a key is unique: per organization and route (`POST /messages/send`).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub organization_id: &'a OrganizationId,
    pub route: &'a str,
}

/// Runs `work` once per [`Scope`] and `Idempotency-Key`, when the request
/// (`headers`, raw `body`) carries one: a replay answers the stored first
/// answer without running `work`; another body answers 409; a failed `work`
/// releases the key so the client may retry. Without a key, `work` just
/// runs. `work` receives the key (to derive keys for calls it makes).
pub async fn idempotent<T, F, Fut>(
    db: &Db,
    scope: Scope<'_>,
    headers: &HeaderMap,
    body: &[u8],
    work: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<ApiSuccess<T>, ApiError>>,
{
    let Some(key) = key_from(headers)? else {
        return Ok(work(None).await?.into_response());
    };
    let reservation = match claim(db, scope.organization_id, scope.route, &key, body).await? {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok((status, axum::Json(body)).into_response());
        }
        Claim::New(reservation) => reservation,
    };
    match work(Some(key)).await {
        Ok(answer) => {
            let (status, envelope) = answer.into_parts();
            let stored = serde_json::to_value(&envelope).map_err(ApiError::internal)?;
            complete(db, reservation, status.as_u16(), &stored).await?;
            Ok((status, axum::Json(stored)).into_response())
        }
        Err(error) => {
            release(db, reservation).await;
            Err(error)
        }
    }
}

const TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
const MAX_KEY_LEN: usize = 255;

/// What [`idempotent`] does with a request that carries a key.
enum Claim {
    /// First time: do the work, then [`complete`] with the answer.
    New(Reservation),
    /// Seen before with the same body: answer this again.
    Replay { status: u16, body: Value },
}

struct Reservation {
    id: String,
}

/// The request's `Idempotency-Key`, checked.
fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "Idempotency-Key",
                format!("must be 1 to {MAX_KEY_LEN} visible characters"),
            )
        })?;
    Ok(Some(key.to_string()))
}

/// Claims `key` for this organization and route, or finds its first answer.
async fn claim(
    db: &Db,
    organization_id: &OrganizationId,
    route: &str,
    key: &str,
    body: &[u8],
) -> Result<Claim, ApiError> {
    let request_hash = sha256_hex(&String::from_utf8_lossy(body));
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    store::forget_expired_key(&mut tx, organization_id, route, key, now).await?;
    if let Some(existing) = store::find_key(&mut tx, organization_id, route, key).await? {
        tx.commit().await?;
        if existing.request_hash != request_hash {
            return Err(ApiError::IdempotencyConflict(
                "this Idempotency-Key was used with a different request body".into(),
            ));
        }
        return match (existing.response_status, existing.response_body) {
            (Some(status), Some(body)) => Ok(Claim::Replay {
                status: status as u16,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            }),
            _ => Err(ApiError::IdempotencyConflict(
                "a request with this Idempotency-Key is still being processed".into(),
            )),
        };
    }
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = store::insert_key(
        &mut tx,
        store::NewKey {
            id: &id,
            organization_id,
            route,
            key,
            request_hash: &request_hash,
            created_at: now,
            expires_at: now.plus(TTL),
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        // Another request with this key got there first (PostgreSQL).
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::IdempotencyConflict(
                "a request with this Idempotency-Key is still being processed".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(Claim::New(Reservation { id }))
}

/// Stores the first answer of a claimed key.
async fn complete(
    db: &Db,
    reservation: Reservation,
    status: u16,
    body: &Value,
) -> Result<(), ApiError> {
    store::store_answer(db.pool(), &reservation.id, status, &body.to_string()).await?;
    Ok(())
}

/// Releases a claim whose request failed, so the client may retry it.
async fn release(db: &Db, reservation: Reservation) {
    if let Err(error) = store::delete_key(db.pool(), &reservation.id).await {
        tracing::warn!(%error, "cannot release an idempotency key");
    }
}

/// Deletes the keys expired before `now` (daily housekeeping); returns how
/// many went.
pub async fn purge_expired(db: &Db, now: crate::Timestamp) -> Result<u64, sqlx::Error> {
    store::purge_expired(db.pool(), now).await
}
