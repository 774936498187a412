//! Database queries as child spans of the span that ran them.
//!
//! sqlx reports each statement once it is done as an event (target
//! `sqlx::query`, at debug) with the statement's first words and the time
//! it took. This layer, installed only when traces are exported, turns
//! every such event inside an exported span into a client span `db.query`
//! that started `elapsed` ago: no store is touched, and no bind value is
//! ever seen (the event carries the statement's text, not its values).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::Tracer;
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The target of sqlx's per-statement events.
pub const QUERY_TARGET: &str = "sqlx::query";

/// What this layer listens to: sqlx's statement events, and the spans
/// (at info and above, as the exported ones are) they may happen in.
pub fn interest(metadata: &Metadata<'_>) -> bool {
    // Not `is_event`: sqlx asks first with `tracing::enabled!`, whose
    // metadata is neither an event's nor a span's.
    if metadata.is_span() {
        *metadata.level() <= Level::INFO
    } else {
        metadata.target() == QUERY_TARGET
    }
}

/// The layer; `system` is `db.system` (`sqlite` or `postgresql`).
pub struct QuerySpans {
    tracer: Tracer,
    system: &'static str,
    dispatch: OnceLock<WeakDispatch>,
}

impl QuerySpans {
    pub fn new(tracer: Tracer, system: &'static str) -> Self {
        Self {
            tracer,
            system,
            dispatch: OnceLock::new(),
        }
    }
}

/// The fields of a statement event this layer keeps.
#[derive(Default)]
struct Statement {
    summary: String,
    elapsed_secs: f64,
    rows_affected: Option<u64>,
    rows_returned: Option<u64>,
    slow: bool,
}

impl Visit for Statement {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.trim_end_matches(" …").to_string(),
            "message" => self.slow = true,
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "rows_affected" => self.rows_affected = Some(value),
            "rows_returned" => self.rows_returned = Some(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, _value: &dyn std::fmt::Debug) {
        // The slow statement's warning is its message.
        if field.name() == "message" {
            self.slow = true;
        }
    }
}

impl<S> Layer<S> for QuerySpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != QUERY_TARGET {
            return;
        }
        // Only inside a span: a statement outside any request or job
        // (the worker's polling) is not worth a trace of its own.
        let Some(id) = ctx.event_span(event).map(|span| span.id()) else {
            return;
        };
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(parent) = tracing_opentelemetry::get_otel_context(&id, &dispatch) else {
            return;
        };
        if !parent.span().span_context().is_valid() {
            return;
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let end = SystemTime::now();
        let elapsed = Duration::try_from_secs_f64(statement.elapsed_secs).unwrap_or_default();
        let start = end.checked_sub(elapsed).unwrap_or(end);
        let operation = statement
            .summary
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let mut attributes = vec![
            KeyValue::new("db.system", self.system),
            KeyValue::new("db.system.name", self.system),
            KeyValue::new("db.statement", statement.summary),
            KeyValue::new("db.operation.name", operation),
        ];
        if let Some(rows) = statement.rows_affected {
            attributes.push(KeyValue::new(
                "db.rows_affected",
                i64::try_from(rows).unwrap_or(i64::MAX),
            ));
        }
        if let Some(rows) = statement.rows_returned {
            attributes.push(KeyValue::new(
                "db.rows_returned",
                i64::try_from(rows).unwrap_or(i64::MAX),
            ));
        }
        if statement.slow {
            attributes.push(KeyValue::new("db.slow", true));
        }
        let mut span = self
            .tracer
            .span_builder("db.query")
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        span.end_with_timestamp(end);
    }
}
