//! Operations endpoints, outside `/api/v1`: liveness, readiness, metrics and
//! security.txt.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Router;
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
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        landlord_core::telemetry::traced_call("redis", "PING", ping, Result::is_err).await
    };
    matches!(
        tokio::time::timeout(CHECK_TIMEOUT, attempt).await,
        Ok(Ok(ref pong)) if pong == "PONG"
    )
}

/// Prometheus metrics: requests by route template, method and status;
/// request latency histogram; process figures.
///
/// Not public. With `metrics_listen` set, it is served only on that
/// address (404 here). Otherwise, with `metrics_token` set, it needs
/// `Authorization: Bearer <metrics_token>` (401 without). With neither, it
/// answers only to clients connected from a loopback address (the peer,
/// never `X-Forwarded-For`); others get 404.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
        (status = 401, description = "`metrics_token` is set and the request does not carry it as a bearer token", body = ErrorEnvelope),
        (status = 404, description = "Served on `metrics_listen` instead, or (neither setting set) the client is not on loopback", body = ErrorEnvelope)
    )
)]
pub async fn metrics(State(state): State<AppState>, request: Parts) -> Result<Response, ApiError> {
    let config = &state.config;
    if config.metrics_listen.is_some() {
        return Err(ApiError::NotFound("no such route".into()));
    }
    let peer = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    authorize_metrics(config, peer, &request.headers)?;
    Ok(metrics_text(&state.db))
}

/// The rule of `/metrics` on the main listener once `metrics_listen` is
/// ruled out: the token when one is set, loopback otherwise.
fn authorize_metrics(
    config: &landlord_core::Config,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    match config.metrics_token.as_ref().map(|t| t.expose_str()) {
        Some(expected) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .unwrap_or("");
            if landlord_core::crypto::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
                Ok(())
            } else {
                Err(ApiError::Unauthorized(
                    "metrics need Authorization: Bearer <metrics_token>".into(),
                ))
            }
        }
        None if peer.is_some_and(|p| p.ip().is_loopback()) => Ok(()),
        None => Err(ApiError::NotFound("no such route".into())),
    }
}

fn metrics_text(db: &landlord_core::Db) -> Response {
    record_pool_use(db);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        landlord_core::telemetry::render_metrics(),
    )
        .into_response()
}

/// The router of the separate `metrics_listen` address: `/metrics` only
/// (with the bearer token when `metrics_token` is set too).
pub fn metrics_router(
    config: std::sync::Arc<landlord_core::Config>,
    db: landlord_core::Db,
) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(move |headers: HeaderMap| {
                let config = config.clone();
                let db = db.clone();
                async move {
                    if config.metrics_token.is_some() {
                        // Any peer may reach this listener; the token decides.
                        authorize_metrics(&config, None, &headers)?;
                    }
                    Ok::<_, ApiError>(metrics_text(&db))
                }
            }),
        )
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
}

/// Start-up warning when `/metrics` is left to the loopback rule on a
/// listener that is not loopback (behind a local proxy, every client would
/// look like loopback).
pub fn warn_if_metrics_exposed(config: &landlord_core::Config) {
    let loopback = config
        .listen_addr()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false);
    if !loopback && config.metrics_token.is_none() && config.metrics_listen.is_none() {
        tracing::warn!(
            listen = %config.listen,
            "/metrics is protected only by the loopback rule on a listener that is not loopback: \
             set metrics_token or metrics_listen (a local reverse proxy would make every client loopback)"
        );
    }
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

/// This instance's database pool as `/metrics` is rendered: connections
/// in use, idle and the most it may open.
fn record_pool_use(db: &landlord_core::Db) {
    let pool = db.pool();
    let open = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(open - idle));
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.options().get_max_connections()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    #[test]
    fn without_settings_only_loopback_peers_get_metrics() {
        let config = landlord_core::Config::default();
        let headers = HeaderMap::new();
        assert!(authorize_metrics(&config, peer("127.0.0.1"), &headers).is_ok());
        assert!(authorize_metrics(&config, peer("::1"), &headers).is_ok());
        let refused = authorize_metrics(&config, peer("203.0.113.5"), &headers).unwrap_err();
        assert_eq!(refused.status().as_u16(), 404);
        assert!(authorize_metrics(&config, None, &headers).is_err());
    }

    #[test]
    fn with_a_token_the_token_decides_even_on_loopback() {
        let config = landlord_core::Config {
            metrics_token: Some("metrics-token-0123456789".into()),
            ..Default::default()
        };
        let mut headers = HeaderMap::new();
        let refused = authorize_metrics(&config, peer("127.0.0.1"), &headers).unwrap_err();
        assert_eq!(refused.status().as_u16(), 401);
        headers.insert(
            header::AUTHORIZATION,
            "Bearer metrics-token-0123456789".parse().unwrap(),
        );
        assert!(authorize_metrics(&config, peer("203.0.113.5"), &headers).is_ok());
    }
}
