//! `/keys`: issue, list, revoke and transfer keys (people), verify a key
//! (programs); and the dashboard's per-key figures.

mod dashboard;
mod keys;
mod transfer;
mod verify;

use landlord_core::ApiError;
use sqlx::{Any, Executor};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::manage::{key_not_found, CreateKeyRequest, CreatedKey, KeyView};
pub use crate::overview::DashboardStats;
pub use dashboard::KeyUsage;
pub use verify::{QuotaView, RateLimitView, VerifyKeyRequest, VerifyKeyResponse};

use crate::manage;
use crate::store::KeyRow;
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

/// One key as people see it, with its creator's email.
async fn key_view<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    row: KeyRow,
) -> Result<KeyView, ApiError> {
    manage::view_of(executor, row).await
}
