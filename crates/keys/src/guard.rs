//! The layer in front of API-key routes.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use landlord_core::http::client::client_addr;
use landlord_core::Timestamp;
use landlord_metering::{method_name, UsageRecord};
use tower::{Layer, Service};

use crate::admission::{key_from_headers, rate_limit_headers};
use crate::KeysState;

/// Puts [`ApiKeyGuard`] in front of the routes it wraps
/// (`Router::route_layer`).
///
/// A plain tower layer rather than `axum::middleware::from_fn`: axum
/// clones a route's stack for every request, and `from_fn` also extracts
/// its state from the request and boxes the route below it again per
/// call; here the state is a field and the route below is called as it
/// is.
#[derive(Clone)]
pub struct ApiKeyGuardLayer {
    state: KeysState,
}

impl ApiKeyGuardLayer {
    pub fn new(state: KeysState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for ApiKeyGuardLayer {
    type Service = ApiKeyGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyGuard {
            state: self.state.clone(),
            inner,
        }
    }
}

/// Authenticates the key, applies rate limit and quota, runs the route
/// with an [`crate::ApiKeyContext`] extension, then records the request
/// for metering (off the request path: a channel send) and adds rate-limit
/// headers. Requests refused here are not metered.
#[derive(Clone)]
pub struct ApiKeyGuard<S> {
    state: KeysState,
    inner: S,
}

impl<S> Service<Request> for ApiKeyGuard<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The readied route answers this request; a clone waits for the
        // next (tower's usual swap).
        let clone = self.inner.clone();
        let route = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(guard(state, route, request).await) })
    }
}

async fn guard<S>(state: KeysState, mut route: S, mut request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
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
    let client = client_addr(request.headers(), request.extensions());
    let context = match state.admit(key, client).await {
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
    let Ok(mut response) = route.call(request).await;
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
