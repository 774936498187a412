//! Operations endpoints, outside `/api/v1`: liveness, readiness, metrics and
//! security.txt.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use landlord_core::error::{ApiError, ErrorEnvelope};
use landlord_core::http::{ApiSuccess, Envelope};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// How long a readiness check waits for one dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(security_txt))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` while the process serves requests.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: answers while the process serves requests; touches nothing.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = Envelope<Health>))
)]
pub async fn health() -> ApiSuccess<Health> {
    ApiSuccess::ok(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when every dependency answered.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// Each dependency: `up`, `down` or `not_configured`.
    #[schema(example = json!({"database": "up", "redis": "not_configured"}))]
    pub checks: serde_json::Value,
}

/// Readiness: checks the database (and Redis when configured). Answers 503
/// in the error envelope naming what is down.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Every dependency answered", body = Envelope<Readiness>),
        (status = 503, description = "A dependency is down; `details.checks` names it", body = ErrorEnvelope)
    )
)]
pub async fn ready(State(state): State<AppState>) -> Result<ApiSuccess<Readiness>, ApiError> {
    let database = matches!(
        tokio::time::timeout(CHECK_TIMEOUT, state.db.ping()).await,
        Ok(Ok(()))
    );
    let redis = match &state.redis {
        None => None,
        Some(client) => Some(redis_answers(client).await),
    };
    let label = |up: bool| if up { "up" } else { "down" };
    let checks = serde_json::json!({
        "database": label(database),
        "redis": redis.map(label).unwrap_or("not_configured"),
    });
    let mut down = Vec::new();
    if !database {
        down.push("database");
    }
    if redis == Some(false) {
        down.push("redis");
    }
    if down.is_empty() {
        Ok(ApiSuccess::ok(Readiness {
            status: "ready",
            checks,
        }))
    } else {
        tracing::warn!(down = ?down, "readiness check failed");
        Err(ApiError::ServiceUnavailable {
            message: format!("not ready: {} down", down.join(" and ")),
            details: Some(serde_json::json!({ "checks": checks })),
        })
    }
}

async fn redis_answers(client: &redis::Client) -> bool {
    let attempt = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, attempt).await,
        Ok(Ok(ref pong)) if pong == "PONG"
    )
}

/// Prometheus metrics: requests by route template, method and status;
/// request latency histogram; process figures.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        landlord_core::telemetry::render_metrics(),
    )
}

/// RFC 9116 security.txt with the configured contact.
#[utoipa::path(
    get,
    path = "/.well-known/security.txt",
    tag = "operations",
    responses((status = 200, description = "security.txt", body = String, content_type = "text/plain"))
)]
pub async fn security_txt(State(state): State<AppState>) -> impl IntoResponse {
    let config = &state.config;
    // RFC 9116 requires an expiry; a year ahead of now keeps it fresh.
    let expires = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    let contact = if config.security_contact.contains(':') {
        config.security_contact.clone()
    } else {
        format!("mailto:{}", config.security_contact)
    };
    let body = format!(
        "Contact: {contact}\nExpires: {expires}\nPreferred-Languages: en\nCanonical: {}/.well-known/security.txt\n",
        config.public_url.trim_end_matches('/')
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}
