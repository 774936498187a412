//! The baseline every platform request passes through, as one service
//! around the whole router: request id, trust in `X-Forwarded-For`, the
//! request's span and access log, CORS, panic recovery, the timeout and
//! the body limit; on the way out the error envelope and the security
//! headers.
//!
//! One service rather than a stack of `Router::layer` calls: axum applies
//! such a layer to every route separately, so each request cloned and
//! boxed every layer's service below it (the CORS configuration's lists
//! among them). Here a request costs one `Arc` clone of the router and one
//! boxed future, and the work is plain function calls.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either, FutureExt};
use http_body_util::Limited;
use tower::{Service, ServiceExt};
use tower_http::cors::Cors;
use tracing::Instrument;

use crate::config::Config;
use crate::error::ApiError;
use crate::http::client::TrustForwardedFor;
use crate::http::middleware::{
    add_security_headers, answer_panic, cors, envelope_guard, log_response, make_request_span,
};
use crate::http::request_id::{self, REQUEST_ID_HEADER};

/// Wraps `platform` (the router, with anything that must see its answers)
/// in the baseline, configured from `config`.
pub fn apply_baseline<S>(platform: S, config: &Config) -> Baseline<S>
where
    S: Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let guarded = Guarded {
        inner: platform,
        timeout: config.request_timeout(),
        body_limit: config.body_limit_bytes,
    };
    let cors = cors(config);
    let cors_without_origin = headers_without_origin(&cors);
    Baseline {
        shared: Arc::new(Shared {
            cors: tower::Layer::layer(&cors, guarded.clone()),
            plain: guarded,
            cors_without_origin,
            trust: TrustForwardedFor::new(
                config.trust_forwarded_for,
                config.trusted_proxy_hops,
                // Validated at start; an invalid list cannot get here.
                config.trusted_proxy_networks().unwrap_or_default(),
            ),
        }),
    }
}

/// The baseline service; cheap to clone (one `Arc`).
pub struct Baseline<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Baseline<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<S> {
    /// For requests that carry an `Origin` and for preflights.
    cors: Cors<Guarded<S>>,
    /// For the others: same-origin browsers, servers, scripts.
    plain: Guarded<S>,
    /// What CORS adds to an answer to a request without `Origin` (`Vary`,
    /// the exposed headers; the allowed origin when it is `*`), worked out
    /// once so those requests skip it and answer the same.
    cors_without_origin: HeaderMap,
    trust: TrustForwardedFor,
}

impl<S> Service<Request> for Baseline<S>
where
    S: Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Response, std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The router is always ready; so is everything here.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = request_id::assign(&mut request);
        request.extensions_mut().insert(self.shared.trust.clone());
        let span = make_request_span(&request);
        // CORS only when a browser asks for it: an `Origin`, or a
        // preflight (CORS answers every `OPTIONS` itself).
        let service = if request.headers().contains_key(header::ORIGIN)
            || request.method() == Method::OPTIONS
        {
            Either::Left(self.shared.cors.clone())
        } else {
            Either::Right(self.shared.plain.clone())
        };
        let shared = self.shared.clone();
        let answer = async move {
            match service {
                Either::Left(cors) => cors.oneshot(request).await,
                Either::Right(plain) => {
                    let mut response = plain.oneshot(request).await?;
                    add_cors_headers(&mut response, &shared.cors_without_origin);
                    Ok(response)
                }
            }
        };
        Box::pin(async move {
            let response = request_id::scope(id.clone(), answer)
                .instrument(span.clone())
                .await?;
            let mut response = add_security_headers(envelope_guard(response));
            response.headers_mut().insert(REQUEST_ID_HEADER.clone(), id);
            let _entered = span.enter();
            log_response(&response, started.elapsed(), &span);
            Ok(response)
        })
    }
}

/// The headers CORS adds to an answer for a request without `Origin`,
/// found by asking the CORS layer itself about such a request.
fn headers_without_origin(cors: &tower_http::cors::CorsLayer) -> HeaderMap {
    let answer_nothing = tower::service_fn(|_: Request| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
    });
    let probe = Request::get("/").body(Body::empty()).unwrap_or_default();
    // The probe service is ready at once, and so is CORS's answer.
    match tower::Layer::layer(cors, answer_nothing)
        .oneshot(probe)
        .now_or_never()
    {
        Some(Ok(response)) => response.headers().clone(),
        _ => HeaderMap::new(),
    }
}

/// Adds them as CORS would: `Vary` next to a handler's own, the others
/// in place of a handler's.
fn add_cors_headers(response: &mut Response, cors: &HeaderMap) {
    let headers = response.headers_mut();
    for (name, value) in cors {
        if name == header::VARY {
            headers.append(name, value.clone());
        } else {
            headers.insert(name, value.clone());
        }
    }
}

/// The router behind the body limit, the timeout and panic recovery.
#[derive(Clone)]
struct Guarded<S> {
    inner: S,
    timeout: Duration,
    body_limit: usize,
}

type Outcome = Result<
    Result<Result<Response, std::convert::Infallible>, tokio::time::error::Elapsed>,
    Box<dyn std::any::Any + Send>,
>;

type GuardedFuture<F> = Either<
    futures::future::Ready<Result<Response, std::convert::Infallible>>,
    futures::future::Map<
        futures::future::CatchUnwind<AssertUnwindSafe<tokio::time::Timeout<F>>>,
        fn(Outcome) -> Result<Response, std::convert::Infallible>,
    >,
>;

impl<S> Service<Request> for Guarded<S>
where
    S: Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = GuardedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.body_limit as u64) {
            let refused = ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
            return Either::Left(futures::future::ready(Ok(refused)));
        }
        // A body read past the limit fails in the extractor, with a 413.
        let limit = self.body_limit;
        let request = if request.body().is_end_stream() {
            request
        } else {
            request.map(|body| Body::new(Limited::new(body, limit)))
        };
        let answer = tokio::time::timeout(self.timeout, self.inner.call(request));
        Either::Right(
            AssertUnwindSafe(answer)
                .catch_unwind()
                .map(settle as fn(_) -> _),
        )
    }
}

/// A timeout answers 503, a panic 500 (logged), both in the envelope.
fn settle(outcome: Outcome) -> Result<Response, std::convert::Infallible> {
    Ok(match outcome {
        Ok(Ok(answer)) => answer?,
        Ok(Err(_elapsed)) => ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE).into_response(),
        Err(panic) => answer_panic(panic),
    })
}
