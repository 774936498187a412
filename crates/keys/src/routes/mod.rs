//! `/keys`: issue, list, revoke and transfer keys (people), verify a key
//! (programs); and the dashboard's per-key figures.

mod dashboard;
mod keys;
mod transfer;
mod verify;

use std::collections::HashMap;

use landlord_core::ids::{ApiKeyId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::store as identity_store;
use serde::Serialize;
use sqlx::{Any, Executor};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::overview::DashboardStats;
pub use dashboard::KeyUsage;
pub use keys::{CreateKeyRequest, CreatedKey};
pub use verify::{QuotaView, RateLimitView, VerifyKeyRequest, VerifyKeyResponse};

use crate::store::{self, KeyRow, KeyStatus};
use crate::KeysState;

pub fn router() -> OpenApiRouter<KeysState> {
    OpenApiRouter::new()
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(transfer::transfer_key))
        .routes(routes!(verify::verify_key))
        .routes(routes!(dashboard::dashboard_stats))
        .routes(routes!(dashboard::api_key_usage))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: ApiKeyId,
    pub prefix: String,
    pub name: String,
    /// User id of the creator.
    pub created_by: Option<UserId>,
    pub created_by_email: Option<String>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// `active`, `expired` or `revoked`.
    pub status: KeyStatus,
    pub scopes: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<i64>,
}

impl KeyView {
    fn new(row: KeyRow, created_by_email: Option<String>) -> Self {
        Self {
            status: row.status(),
            scopes: store::decode_scopes(row.scopes.as_deref()),
            id: row.id,
            prefix: row.prefix,
            name: row.name,
            created_by: row.created_by,
            created_by_email,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            rate_limit_per_minute: row.rate_limit_per_minute,
        }
    }
}

/// The creators' emails of `rows` (identity's, read through identity).
async fn creators<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    rows: &[KeyRow],
) -> Result<HashMap<UserId, String>, sqlx::Error> {
    let mut ids: Vec<UserId> = rows.iter().filter_map(|r| r.created_by.clone()).collect();
    ids.sort();
    ids.dedup();
    Ok(identity_store::emails_of(executor, &ids)
        .await?
        .into_iter()
        .collect())
}

/// One key as people see it, with its creator's email.
async fn key_view<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: KeyRow,
) -> Result<KeyView, sqlx::Error> {
    let mut emails = creators(executor, std::slice::from_ref(&row)).await?;
    let email = row.created_by.as_ref().and_then(|id| emails.remove(id));
    Ok(KeyView::new(row, email))
}

fn key_not_found() -> ApiError {
    ApiError::not_found("API key")
}
