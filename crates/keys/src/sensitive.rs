//! Stricter limits on sensitive routes (seed 001): requests per minute per
//! client address, in the same limiter as API-key traffic (so shared through
//! Redis when configured). One table, one middleware.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use landlord_core::http::client::TrustForwardedFor;
use landlord_core::ApiError;
use std::net::SocketAddr;

use std::sync::Arc;

use landlord_limits::RateLimiter;

use crate::admission::{ceil_secs, rate_limit_headers};

/// The middleware's state: small, because every request clones it.
#[derive(Clone)]
pub struct SensitiveLimits {
    pub limiter: Arc<RateLimiter>,
    pub per_minute: u32,
}

/// (method, path, share of `sensitive_rate_limit_per_minute`): sign-in and
/// account recovery, where guessing and mail flooding happen.
pub const SENSITIVE_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/request-password-reset"),
    ("POST", "/api/v1/auth/request-email-verification"),
    ("POST", "/api/v1/auth/reset-password"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/team/accept-invitation"),
    ("POST", "/api/v1/team/decline-invitation"),
];

fn client_ip(request: &Request) -> String {
    let trust = request
        .extensions()
        .get::<TrustForwardedFor>()
        .is_some_and(|t| t.0);
    let forwarded = trust
        .then(|| {
            request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
        })
        .flatten();
    forwarded
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Middleware: limits each listed route per client address.
pub async fn limit_sensitive_routes(
    State(state): State<SensitiveLimits>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str();
    let path = request.uri().path();
    let Some((_, route)) = SENSITIVE_ROUTES
        .iter()
        .find(|(m, p)| *m == method && *p == path)
    else {
        return next.run(request).await;
    };
    let limit = state.per_minute;
    let key = format!("route:{route}:ip:{}", client_ip(&request));
    let decision = state.limiter.check(&key, limit).await;
    if !decision.allowed {
        let mut response = ApiError::RateLimited {
            message: format!(
                "too many requests to {route} from this address; at most {limit} a minute"
            ),
            retry_after_secs: ceil_secs(decision.retry_after),
        }
        .into_response();
        rate_limit_headers(response.headers_mut(), &decision);
        return response;
    }
    next.run(request).await
}
