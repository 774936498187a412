//! Logs, traces and metrics.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};

mod queries;

/// Whether spans are exported (an OTLP endpoint is configured). Read on
/// the hot path, so a request pays nothing for traces when they are off.
static TRACES_ON: AtomicBool = AtomicBool::new(false);

/// Whether request and job spans are exported over OTLP.
pub fn traces_enabled() -> bool {
    TRACES_ON.load(Ordering::Relaxed)
}

/// What `main` keeps until the process ends: the span exporter, flushed
/// by [`Telemetry::shutdown`].
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("landlord: the last spans could not be exported: {error}");
            }
        }
    }
}

/// Installs the global tracing subscriber (JSON or human lines) writing to
/// standard output, and the OTLP span exporter when an endpoint is
/// configured. Colour codes only when standard output is a terminal, so
/// a log redirected to a file or a pipe reads as plain text (and `grep`
/// finds `link=`). Call once, from `main`; later calls are ignored.
pub fn init_logging(config: &Config) -> Telemetry {
    let filter =
        || EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let (provider, problem) = match otlp_provider(config) {
        Ok(provider) => (provider, None),
        Err(error) => (None, Some(error)),
    };
    let installed = match &provider {
        // Traces off: one filter for the whole subscriber, as it always was.
        None => tracing_subscriber::registry()
            .with(filter())
            .with(fmt_layer(config))
            .try_init()
            .is_ok(),
        // Traces on: each layer has its own filter, so that sqlx's
        // statement events (at debug) reach the query spans without
        // reaching the log.
        Some(provider) => {
            let system = match config.database_kind() {
                Ok(crate::config::DatabaseKind::Postgres) => "postgresql",
                _ => "sqlite",
            };
            tracing_subscriber::registry()
                .with(fmt_layer(config).with_filter(filter()))
                .with(
                    tracing_opentelemetry::layer()
                        .with_tracer(provider.tracer("landlord"))
                        .with_tracked_inactivity(false)
                        .with_filter(filter()),
                )
                .with(
                    queries::QuerySpans::new(provider.tracer("landlord"), system)
                        .with_filter(tracing_subscriber::filter::filter_fn(queries::interest)),
                )
                .try_init()
                .is_ok()
        }
    };
    if let Some(error) = problem {
        tracing::error!(
            error = format!("{error:#}"),
            "traces are off: the OTLP exporter could not start"
        );
    }
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        TRACES_ON.store(true, Ordering::Relaxed);
    }
    Telemetry { provider }
}

/// The log's layer: JSON or human lines on standard output.
fn fmt_layer<S>(config: &Config) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(std::io::stdout().is_terminal());
    match config.log_format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
    }
}

/// The standard variables that point the exporter at a collector.
const OTLP_ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The span exporter, when `otlp_endpoint` or a standard variable names a
/// collector (and `OTEL_SDK_DISABLED` is not `true`).
fn otlp_provider(config: &Config) -> anyhow::Result<Option<SdkTracerProvider>> {
    use opentelemetry_otlp::WithExportConfig;
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let configured = config
        .otlp_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if configured.is_none() && !OTLP_ENDPOINT_VARIABLES.iter().any(|v| set(v).is_some()) {
        return Ok(None);
    }
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(base) = configured {
        // The setting is the collector's base URL, as the standard
        // variable is: the traces' path goes under it.
        builder = builder.with_endpoint(format!("{}/v1/traces", base.trim_end_matches('/')));
    }
    // Headers (`OTEL_EXPORTER_OTLP_HEADERS`) and the timeout come from the
    // standard variables, read by the exporter itself.
    let exporter = builder.build()?;
    let resource = if set("OTEL_SERVICE_NAME").is_some() {
        Resource::builder().build()
    } else {
        Resource::builder().with_service_name("landlord").build()
    };
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// Makes `span`'s parent the trace named by the W3C `traceparent` (and
/// `tracestate`) among `headers`; nothing when traces are off.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if !traces_enabled() {
        return;
    }
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(parent);
    }
}

/// Names the exported request `span` after the `route` it reached (made
/// before routing, it could not be named then) and records the route
/// attribute; nothing when traces are off.
pub fn name_request_span(span: &tracing::Span, method: &str, route: &str) {
    if !traces_enabled() {
        return;
    }
    // The OpenTelemetry span exists by now (the caller's trace was set as
    // its parent), so it is renamed there, not through `otel.name`.
    span.context()
        .span()
        .update_name(format!("{method} {route}"));
    span.record("http.route", route);
}

/// Makes `span`'s parent the span a W3C `traceparent` value names (one
/// stored with a queued job); nothing when traces are off.
pub fn continue_from(span: &tracing::Span, traceparent: &str) {
    if !traces_enabled() {
        return;
    }
    let mut carrier = std::collections::HashMap::new();
    carrier.insert("traceparent".to_string(), traceparent.to_string());
    let parent = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}

/// The W3C `traceparent` of the current span, to store with work done
/// later (a queued job); `None` when traces are off or outside a span.
pub fn traceparent() -> Option<String> {
    trace_headers()
        .into_iter()
        .find(|(name, _)| name == "traceparent")
        .map(|(_, value)| value)
}

/// The W3C trace-context headers (`traceparent`, maybe `tracestate`) that
/// carry the current span to another service; none when traces are off.
pub fn trace_headers() -> Vec<(String, String)> {
    if !traces_enabled() {
        return Vec::new();
    }
    struct Headers(Vec<(String, String)>);
    impl Injector for Headers {
        fn set(&mut self, key: &str, value: String) {
            self.0.push((key.to_string(), value));
        }
    }
    let context = tracing::Span::current().context();
    let mut headers = Headers(Vec::new());
    TraceContextPropagator::new().inject_context(&context, &mut headers);
    headers.0
}

/// Awaits `call`, a call to a service spoken to in its own protocol
/// (`system`: `redis`), as an exported client span `SYSTEM OPERATION`
/// (`redis EVALSHA`), marked as an error when `failed` says so. The same
/// as awaiting `call` when traces are off.
pub async fn traced_call<F: std::future::Future>(
    system: &'static str,
    operation: &'static str,
    call: F,
    failed: impl FnOnce(&F::Output) -> bool,
) -> F::Output {
    if !traces_enabled() {
        return call.await;
    }
    let span = tracing::info_span!(
        "client call",
        otel.name = %format_args!("{system} {operation}"),
        otel.kind = "client",
        db.system = system,
        db.operation.name = operation,
        otel.status_code = tracing::field::Empty,
    );
    let output = tracing::Instrument::instrument(call, span.clone()).await;
    if failed(&output) {
        span.record("otel.status_code", "ERROR");
    }
    output
}

/// Sending an outgoing HTTP request as an exported client span.
pub trait SendTraced {
    /// Sends the request; when traces are on, inside a client span
    /// `METHOD peer` (`peer` names the service: `stripe`, `twilio`, …)
    /// whose `traceparent` the request carries. The same as `send` when
    /// traces are off.
    fn send_traced(
        self,
        peer: &'static str,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTraced for reqwest::RequestBuilder {
    async fn send_traced(self, peer: &'static str) -> reqwest::Result<reqwest::Response> {
        if !traces_enabled() {
            return self.send().await;
        }
        let (client, request) = self.build_split();
        let mut request = request?;
        let span = tracing::info_span!(
            "http client",
            otel.name = %format_args!("{} {peer}", request.method()),
            otel.kind = "client",
            http.request.method = %request.method(),
            server.address = request.url().host_str().unwrap_or(""),
            peer.service = peer,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        for (name, value) in span.in_scope(trace_headers) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(&value),
            ) {
                request.headers_mut().insert(name, value);
            }
        }
        let response = tracing::Instrument::instrument(client.execute(request), span.clone()).await;
        match &response {
            Ok(response) => {
                span.record("http.response.status_code", response.status().as_u16());
                if response.status().is_client_error() || response.status().is_server_error() {
                    span.record("otel.status_code", "ERROR");
                }
            }
            Err(_) => {
                span.record("otel.status_code", "ERROR");
            }
        }
        response
    }
}

/// The process-wide Prometheus recorder. `metrics` has one global recorder,
/// so every server in the process (several in tests) shares it.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ],
            )
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full("db_pool_acquire_seconds".into()),
                    &[
                        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                )
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let handle = match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (only possible in embedding
            // programs): keep a private one so `/metrics` still answers.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        };
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .ok();
        metrics_process::Collector::default().describe();
        handle
    })
}

/// Renders the Prometheus text exposition, process figures included.
pub fn render_metrics() -> String {
    let handle = prometheus();
    metrics_process::Collector::default().collect();
    handle.render()
}
