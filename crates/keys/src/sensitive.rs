//! Stricter limits on sensitive routes (sign-in, sign-up, password reset,
//! checkout, plan changes…): requests per minute per
//! client address, in the same limiter as API-key traffic (so shared through
//! Redis when configured). One table, one middleware.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use landlord_core::http::client::client_ip;
use landlord_core::ApiError;

use landlord_limits::Decision;

use crate::admission::rate_limit_headers;

pub use landlord_identity::sensitive::{check, SensitiveLimits};

/// (method, path, share of `sensitive_rate_limit_per_minute`): sign-in and
/// account recovery, where guessing and mail flooding happen.
pub const SENSITIVE_ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/request-password-reset"),
    ("POST", "/api/v1/auth/request-email-verification"),
    ("POST", "/api/v1/auth/reset-password"),
    ("POST", "/api/v1/auth/change-password"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/team/accept-invitation"),
    ("POST", "/api/v1/team/decline-invitation"),
];

/// The listed route `request` is for, if any.
fn sensitive_route(request: &Request) -> Option<&'static str> {
    let method = request.method().as_str();
    let path = request.uri().path();
    SENSITIVE_ROUTES
        .iter()
        .find(|(m, p)| *m == method && *p == path)
        .map(|(_, route)| *route)
}

/// Whether `request` is for one of the listed routes: the middleware
/// below runs only for those (`OnlyWhenLayer`).
pub fn is_sensitive(request: &Request) -> bool {
    sensitive_route(request).is_some()
}

/// Middleware: limits each listed route per client address.
pub async fn limit_sensitive_routes(
    State(state): State<SensitiveLimits>,
    request: Request,
    next: Next,
) -> Response {
    let Some(route) = sensitive_route(&request) else {
        return next.run(request).await;
    };
    let ip = client_ip(request.headers(), request.extensions()).unwrap_or_else(|| "unknown".into());
    let decision = decide(&state, route, &ip).await;
    if !decision.allowed {
        let mut response = refusal(&state, route, &decision).into_response();
        rate_limit_headers(response.headers_mut(), &decision);
        return response;
    }
    next.run(request).await
}

async fn decide(state: &SensitiveLimits, route: &str, ip: &str) -> Decision {
    state.decide(route, ip).await
}

fn refusal(state: &SensitiveLimits, route: &str, decision: &Decision) -> ApiError {
    state.refusal(route, decision)
}
