//! What the baseline (`baseline.rs`) does to every request and answer —
//! the span and access log, the security headers, the error envelope,
//! CORS, panic answers — and the per-route request metrics.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Span;

use crate::config::Config;
use crate::error::{ApiError, Enveloped};
use crate::http::request_id::REQUEST_ID_HEADER;

/// The request's span. It is made before routing, so an exported span is
/// named after the route later, by [`RecordMetrics`] (a route's layer):
/// "unmatched" until then.
pub(crate) fn make_request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !crate::telemetry::traces_enabled() {
        return tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.uri().path(),
            organization_id = tracing::field::Empty,
        );
    }
    // Exported: named after the route (not the path, which carries ids),
    // with the attributes trace viewers know, continuing the caller's trace.
    // The route is not known yet: "unmatched" until a route names it.
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} unmatched", request.method()),
        otel.kind = "server",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        http.route = tracing::field::Empty,
        http.request.method = %request.method(),
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        organization_id = tracing::field::Empty,
    );
    crate::telemetry::continue_trace(&span, request.headers());
    span
}

pub(crate) fn log_response(response: &Response, latency: Duration, span: &Span) {
    if crate::telemetry::traces_enabled() {
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "request finished"
    );
}

/// The security headers every answer carries (no sniffing, no framing,
/// a strict referrer policy…), set unless a handler chose its own.
pub(crate) fn add_security_headers(mut response: Response) -> Response {
    const HEADERS: [(HeaderName, &str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_XSS_PROTECTION, "1; mode=block"),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'self'"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    let headers = response.headers_mut();
    headers.reserve(HEADERS.len());
    for (name, value) in HEADERS {
        // One lookup per header (an entry), not a look and an insert.
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    response
}

/// CORS from the configured allowlist; no origins configured allows none.
pub(crate) fn cors(config: &Config) -> CorsLayer {
    let origins = &config.cors_allowed_origins;
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Validated at configuration time.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
            REQUEST_ID_HEADER.clone(),
        ])
        .expose_headers([
            REQUEST_ID_HEADER.clone(),
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("ratelimit-policy"),
            HeaderName::from_static("ratelimit"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// Rewrites error answers produced below the handlers (routing, body limit,
/// timeout) into the error envelope, keeping their headers.
pub(crate) fn envelope_guard(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Enveloped>().is_some()
    {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut enveloped = ApiError::from_status(status).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            enveloped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    enveloped
}

/// A handler panicked: log what happened, answer a plain 500 envelope.
pub(crate) fn answer_panic(payload: Box<dyn Any + Send + 'static>) -> Response {
    let detail = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

/// The request counters and latency histograms by route template, method
/// and status, looked up once and kept: a request then costs a read lock
/// and two hash lookups instead of formatting and allocating its labels
/// and finding them in the recorder's registry.
///
/// Create it after the metrics recorder is installed (handles taken before
/// would count nowhere).
#[derive(Default)]
pub struct RequestMetrics {
    /// Route template → (method, status) → handles. Bounded by the routes
    /// and the standard methods: other methods are not cached.
    routes: RwLock<HashMap<Box<str>, ByMethodAndStatus>>,
}

/// One route's handles by (method, status code).
type ByMethodAndStatus = HashMap<(&'static str, u16), RouteHandles>;

#[derive(Clone)]
struct RouteHandles {
    requests: Counter,
    duration: Histogram,
}

impl RequestMetrics {
    fn record(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        let Some(method) = standard_method(method) else {
            // Rare (extension methods): labels built for this request only.
            let handles = Self::handles(route, method.as_str(), status);
            return handles.observe(elapsed);
        };
        let key = (method, status.as_u16());
        let cached = self
            .routes
            .read()
            .ok()
            .and_then(|routes| routes.get(route).and_then(|r| r.get(&key)).cloned());
        let handles = cached.unwrap_or_else(|| {
            let handles = Self::handles(route, method, status);
            if let Ok(mut routes) = self.routes.write() {
                routes
                    .entry(route.into())
                    .or_default()
                    .insert(key, handles.clone());
            }
            handles
        });
        handles.observe(elapsed);
    }

    fn handles(route: &str, method: &str, status: StatusCode) -> RouteHandles {
        let (route, method) = (route.to_owned(), method.to_owned());
        RouteHandles {
            requests: metrics::counter!(
                "http_requests_total",
                "route" => route.clone(),
                "method" => method.clone(),
                "status" => status.as_u16().to_string()
            ),
            duration: metrics::histogram!(
                "http_request_duration_seconds",
                "route" => route,
                "method" => method
            ),
        }
    }
}

impl RouteHandles {
    fn observe(&self, elapsed: Duration) {
        self.requests.increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }
}

/// The method's name as a static string, for the methods axum routes.
fn standard_method(method: &Method) -> Option<&'static str> {
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::TRACE, "TRACE"),
        (Method::CONNECT, "CONNECT"),
    ];
    STANDARD
        .iter()
        .find(|(m, _)| m == method)
        .map(|(_, name)| *name)
}

/// The route layer recording Prometheus request counts and latency by
/// route template, method and status (a route layer, so the matched
/// template is known). A plain service rather than a `from_fn`
/// middleware: it runs on every request, and neither clones the route
/// below it nor boxes anything.
#[derive(Clone)]
pub struct RecordMetricsLayer {
    metrics: Arc<RequestMetrics>,
}

impl RecordMetricsLayer {
    /// Create it after the metrics recorder is installed.
    pub fn new() -> Self {
        Self {
            metrics: Arc::new(RequestMetrics::default()),
        }
    }
}

impl Default for RecordMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for RecordMetricsLayer {
    type Service = RecordMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`RecordMetricsLayer`].
#[derive(Clone)]
pub struct RecordMetrics<S> {
    inner: S,
    metrics: Arc<RequestMetrics>,
}

impl<S> tower::Service<Request> for RecordMetrics<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        if let Some(route) = &route {
            crate::telemetry::name_request_span(&Span::current(), method.as_str(), route.as_str());
        }
        RecordMetricsFuture {
            answer: self.inner.call(request),
            started: Instant::now(),
            route,
            method,
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The route's answer, recorded when it is ready.
    pub struct RecordMetricsFuture<F> {
        #[pin]
        answer: F,
        started: Instant,
        route: Option<MatchedPath>,
        method: Method,
        metrics: Arc<RequestMetrics>,
    }
}

impl<F, E> Future for RecordMetricsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.answer.poll(cx))?;
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        this.metrics.record(
            route,
            this.method,
            response.status(),
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}
