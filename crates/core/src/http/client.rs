//! Who is calling: the client's address and user agent, for audit entries
//! and per-address limits.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap};

/// Whether to believe `X-Forwarded-For`; set once from configuration by
/// the application (only behind a proxy that sets it).
#[derive(Debug, Clone, Copy)]
pub struct TrustForwardedFor(pub bool);

/// The caller's address and user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The client's address: the first `X-Forwarded-For` hop when the
/// application trusts it, the peer's address otherwise.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    let trust = extensions.get::<TrustForwardedFor>().is_some_and(|t| t.0);
    let forwarded = trust
        .then(|| {
            headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
        .flatten();
    forwarded.or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    })
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = client_ip(&parts.headers, &parts.extensions);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}
