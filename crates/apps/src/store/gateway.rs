//! The gateway's reads and writes: what a host routes to, the routing
//! version other instances poll, the apps' gateway signing secrets, and
//! the per-app traffic figures.

use sqlx::{Any, Executor};

use super::{AppRow, APP_COLUMNS};
use crate::ids::AppId;

/// The app whose slug is `slug`, whatever its status.
pub async fn app_by_slug<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    slug: &str,
) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE slug = $1"))
        .bind(slug)
        .fetch_optional(executor)
        .await
}

/// The routing version: moves whenever what some host routes to changed.
pub async fn routing_version<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM app_routing_version WHERE id = 1")
        .fetch_one(executor)
        .await
}

/// Moves the routing version (in the transaction of the change).
pub async fn bump_routing_version<'c, E: Executor<'c, Database = Any>>(
    executor: E,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE app_routing_version SET version = version + 1 WHERE id = 1")
        .execute(executor)
        .await?;
    Ok(())
}

/// An app's gateway signing secrets, sealed: the current one, and the
/// previous one with the end of its overlap.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct GatewaySecrets {
    pub gateway_secret: Option<String>,
    pub gateway_secret_previous: Option<String>,
    pub gateway_secret_previous_until: Option<landlord_core::Timestamp>,
}

/// The app's sealed gateway secrets.
pub async fn gateway_secrets<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
) -> Result<Option<GatewaySecrets>, sqlx::Error> {
    sqlx::query_as(
        "SELECT gateway_secret, gateway_secret_previous, gateway_secret_previous_until \
         FROM apps WHERE id = $1",
    )
    .bind(app_id)
    .fetch_optional(executor)
    .await
}

/// The app that holds `domain` verified, whatever the app's status.
pub async fn app_by_verified_domain<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    domain: &str,
) -> Result<Option<AppRow>, sqlx::Error> {
    let columns = APP_COLUMNS
        .split(", ")
        .map(|column| format!("a.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(&format!(
        "SELECT {columns} FROM apps a JOIN app_domains d ON d.app_id = a.id \
         WHERE d.domain = $1 AND d.status = 'verified'"
    ))
    .bind(domain)
    .fetch_optional(executor)
    .await
}

/// Stores `sealed` as the app's gateway secret when it has none (an app
/// created before the gateway signed); another instance's may win.
pub async fn set_missing_gateway_secret<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
    sealed: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE apps SET gateway_secret = $1 WHERE id = $2 AND gateway_secret IS NULL")
        .bind(sealed)
        .bind(app_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// A new sealed gateway secret; the current one becomes the previous,
/// signing until `previous_until` (`None`: there was none).
pub async fn rotate_gateway_secret<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    app_id: &AppId,
    sealed: &str,
    previous_until: Option<landlord_core::Timestamp>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE apps SET gateway_secret_previous = gateway_secret, \
         gateway_secret_previous_until = $1, gateway_secret = $2 WHERE id = $3",
    )
    .bind(previous_until)
    .bind(sealed)
    .bind(app_id)
    .execute(executor)
    .await?;
    Ok(())
}
