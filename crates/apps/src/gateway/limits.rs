//! Limits and metering at the gateway: every request counts against the
//! publishing organization's plan (its gateway rate limit and its monthly
//! quota), and a request with an installation's token against the
//! installing organization's limit for the app. Metered per app and hour.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio_util::sync::CancellationToken;

use super::hosts::AppRoute;
use super::visitor::Visitor;
use crate::AppsState;

/// The gateway's limiter and meters.
pub struct GatewayLimits {}

/// A request let in, with what to tell the client (RateLimit headers).
#[derive(Debug, Default)]
pub struct Admission {}

impl Admission {
    /// `response` with the admission's headers.
    pub fn decorate(&self, response: Response) -> Response {
        response
    }
}

/// A request refused (429).
#[derive(Debug)]
pub struct Refused {}

impl Refused {
    pub fn into_response(self, headers: &HeaderMap) -> Response {
        super::pages::answer(
            headers,
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Too many requests",
            "Too many requests; try again shortly.",
        )
    }
}

impl GatewayLimits {
    pub fn new(_apps: &AppsState, _keys: &landlord_keys::KeysState) -> Self {
        Self {}
    }

    /// Lets the request in, or refuses it.
    pub async fn admit(&self, _route: &AppRoute, _visitor: &Visitor) -> Result<Admission, Refused> {
        Ok(Admission::default())
    }

    /// Meters an answered request.
    pub fn record(
        &self,
        _route: &AppRoute,
        _visitor: &Visitor,
        _status: StatusCode,
        _latency: Duration,
    ) {
    }

    /// Writes the traffic figures until `stop`.
    pub async fn run(&self, _apps: &AppsState, stop: CancellationToken) {
        stop.cancelled().await;
    }
}
