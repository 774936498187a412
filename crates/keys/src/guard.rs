//! The middleware in front of API-key routes.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use landlord_core::http::client::client_ip;
use landlord_core::Timestamp;
use landlord_metering::{method_name, UsageRecord};

use crate::admission::{key_from_headers, rate_limit_headers};
use crate::KeysState;

/// Authenticates the key, applies rate limit and quota, runs the handler
/// with an [`crate::ApiKeyContext`] extension, then records the request for
/// metering (off the request path: a channel send) and adds rate-limit
/// headers. Requests refused here are not metered.
pub async fn guard(State(state): State<KeysState>, mut request: Request, next: Next) -> Response {
    let key = key_from_headers(request.headers());
    // An installed app's token (a delegated token) is for the few person
    // routes that accept it, never for API-key routes.
    let delegated = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && state.identity.is_delegated(token.trim())
        });
    if key.is_none() && delegated {
        return landlord_core::ApiError::Forbidden("this route does not accept app tokens".into())
            .into_response();
    }
    let client = client_ip(request.headers(), request.extensions());
    let context = match state.admit(key, client.as_deref()).await {
        Ok(context) => context,
        Err(refusal) => {
            let decision = refusal.rate();
            let mut response = refusal.into_api_error().into_response();
            if let Some(decision) = decision {
                rate_limit_headers(response.headers_mut(), &decision);
            }
            return response;
        }
    };
    let endpoint = match request.extensions().get::<MatchedPath>() {
        Some(template) => state.usage.endpoint(template.as_str()),
        None => Arc::from(request.uri().path()),
    };
    let method = method_name(request.method());
    let decision = context.rate;
    let key = context.key.clone();
    request.extensions_mut().insert(context);
    let mut response = next.run(request).await;
    state
        .usage
        .record(UsageRecord {
            caller: key.usage_caller.clone(),
            endpoint,
            method,
            status: response.status().as_u16(),
            at: Timestamp::now(),
            app_id: None,
        })
        .await;
    rate_limit_headers(response.headers_mut(), &decision);
    response
}
