//! `Idempotency-Key` for POSTs that must happen once: a replay within 24
//! hours answers the first answer again; the same key with another body
//! answers 409 IDEMPOTENCY_CONFLICT.
//!
//! A route wraps its work in [`idempotent`], which claims the key, replays
//! or runs the work, then stores its answer or releases the key.
//!
//! A claim still being processed holds its key for a short lease
//! ([`LEASE`]), renewed while its request runs. A retry during the lease
//! answers 409; once the lease lapsed (the instance died mid-request) a
//! retry takes the claim over and runs the work again — which finds what
//! the dead request committed, if anything, since a route's effects are
//! one transaction — so a client retrying with the same key is never
//! locked out for the key's 24 hours.

use std::future::Future;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::crypto::sha256_hex;
use crate::error::ApiError;
use crate::http::ApiSuccess;
use crate::ids::OrganizationId;
use crate::lease::{renewal_period, Heartbeat};
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
    // Renewed while the work runs; dropped (stopped) when it ends or when
    // the request is cancelled, after which the lease lapses on its own.
    let heartbeat = {
        let db = db.clone();
        let id = reservation.id.clone();
        Heartbeat::start(renewal_period(LEASE), move || {
            let db = db.clone();
            let id = id.clone();
            async move { renew(&db, &id).await }
        })
    };
    let outcome = work(Some(key)).await;
    drop(heartbeat);
    match outcome {
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

const TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a claim still being processed holds its key without a renewal:
/// a retry after it takes the claim over.
pub const LEASE: Duration = Duration::from_secs(30);
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
        if let (Some(status), Some(body)) = (existing.response_status, existing.response_body) {
            return Ok(Claim::Replay {
                status: status as u16,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            });
        }
        // Still being processed: by a live request while its lease holds;
        // past it, its instance died and this retry takes the claim over
        // (under a new id, so the dead claim's late writes miss it). A claim
        // made before leases existed counts from its creation.
        let held_until = existing
            .locked_until
            .unwrap_or_else(|| existing.created_at.plus(LEASE));
        if held_until > now {
            return Err(still_processing());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let taken = store::take_over(db.pool(), &existing.id, &id, now, now.plus(LEASE)).await?;
        if !taken {
            // Another retry took it over first.
            return Err(still_processing());
        }
        tracing::warn!(
            route,
            "took over an Idempotency-Key claim whose request stopped renewing it"
        );
        return Ok(Claim::New(Reservation { id }));
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
            locked_until: now.plus(LEASE),
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        // Another request with this key got there first (PostgreSQL).
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(still_processing()),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(Claim::New(Reservation { id }))
}

fn still_processing() -> ApiError {
    ApiError::IdempotencyConflict(
        "a request with this Idempotency-Key is still being processed".into(),
    )
}

/// Extends a claim's lease; false when the claim is no longer this
/// request's (taken over after a lapse) or already answered.
async fn renew(db: &Db, id: &str) -> bool {
    match store::renew(db.pool(), id, Timestamp::now().plus(LEASE)).await {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!("an Idempotency-Key claim was lost while its request ran");
            false
        }
        Err(error) => {
            // Try again at the next beat: the lease outlives two misses.
            tracing::warn!(%error, "cannot renew an Idempotency-Key claim");
            true
        }
    }
}

/// Stores the first answer of a claimed key. A claim taken over meanwhile
/// (this request outlived its lease) keeps the other request's answer.
async fn complete(
    db: &Db,
    reservation: Reservation,
    status: u16,
    body: &Value,
) -> Result<(), ApiError> {
    let stored = store::store_answer(db.pool(), &reservation.id, status, &body.to_string()).await?;
    if !stored {
        tracing::warn!("an Idempotency-Key claim was taken over before its answer was stored");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseKind;

    async fn db() -> (tempfile::TempDir, Db, OrganizationId) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = Db::connect_url(&url, DatabaseKind::Sqlite, 2)
            .await
            .unwrap();
        db.migrate(&[]).await.unwrap();
        let organization = OrganizationId::generate();
        store::insert_organization_for_tests(db.pool(), &organization)
            .await
            .unwrap();
        (dir, db, organization)
    }

    fn new(claim: Result<Claim, ApiError>) -> Reservation {
        match claim {
            Ok(Claim::New(reservation)) => reservation,
            Ok(Claim::Replay { .. }) => panic!("a replay"),
            Err(error) => panic!("{error:?}"),
        }
    }

    fn conflict(claim: Result<Claim, ApiError>) {
        assert!(matches!(claim, Err(ApiError::IdempotencyConflict(_))));
    }

    #[tokio::test]
    async fn a_lapsed_claim_is_taken_over_once_and_its_late_answer_is_ignored() {
        let (_dir, db, org) = db().await;
        let route = "POST /x";
        let dead = new(claim(&db, &org, route, "k", b"{}").await);
        // Live (renewed): a retry is refused.
        assert!(renew(&db, &dead.id).await);
        conflict(claim(&db, &org, route, "k", b"{}").await);
        // Its instance died: the lease lapses.
        store::lapse_for_tests(
            db.pool(),
            &dead.id,
            Timestamp::now().minus(Duration::from_millis(1)),
        )
        .await
        .unwrap();
        conflict(claim(&db, &org, route, "k", b"{\"other\":1}").await);
        let retry = new(claim(&db, &org, route, "k", b"{}").await);
        assert_ne!(retry.id, dead.id);
        // The taker holds it now; the dead claim can neither renew nor answer.
        conflict(claim(&db, &org, route, "k", b"{}").await);
        assert!(!renew(&db, &dead.id).await);
        let late = Reservation {
            id: dead.id.clone(),
        };
        complete(&db, late, 500, &serde_json::json!({"late": true}))
            .await
            .unwrap();
        complete(&db, retry, 201, &serde_json::json!({"ok": true}))
            .await
            .unwrap();
        match claim(&db, &org, route, "k", b"{}").await {
            Ok(Claim::Replay { status, body }) => {
                assert_eq!(status, 201);
                assert_eq!(body, serde_json::json!({"ok": true}));
            }
            _ => panic!("the taker's answer replays"),
        }
    }
}
