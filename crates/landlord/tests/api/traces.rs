//! Traces over OTLP: the binary, pointed at a stand-in collector, exports
//! a span per request (continuing the caller's `traceparent`), its
//! database queries as child spans, and a client span per webhook
//! delivery, in the trace of the request that queued it, whose
//! `traceparent` the receiver gets. With Redis, the shared limits' calls
//! are client spans under the request that made them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::binary::{landlord, send_sigterm, start, wait_for_exit};
use crate::support::eventually::eventually;
use crate::support::otlp::{Collector, Exported};
use crate::support::receiver::Receiver;
use crate::support::redis::RedisServer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

async fn data(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{status}: {body}");
    body["data"].clone()
}

#[tokio::test]
async fn requests_and_webhook_deliveries_are_exported_as_spans() {
    let collector = Collector::start().await;
    let receiver = Receiver::start("ok").await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = landlord(&dir);
    command
        .env("LANDLORD_OTLP_ENDPOINT", &collector.base)
        .env("OTEL_SERVICE_NAME", "landlord-under-test")
        .env("LANDLORD_WEBHOOKS__ALLOW_HTTP", "true")
        .env("LANDLORD_WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true");
    let mut server = start(command);
    let base = format!("http://{}", server.address.replace("0.0.0.0", "127.0.0.1"));
    let http = reqwest::Client::new();

    let registered = data(
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"organization_name": "Traced", "name": "T", "email": "t@traced.test", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = registered["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let endpoint = data(
        http.post(format!("{base}/api/v1/webhooks/endpoints"))
            .bearer_auth(&token)
            .json(&json!({"url": receiver.url("/hook")}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let endpoint_id = endpoint["endpoint"]["id"].as_str().expect("an endpoint id");
    let test = http
        .post(format!(
            "{base}/api/v1/webhooks/endpoints/{endpoint_id}/test"
        ))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(test.status(), 202);
    let organization_id = registered["organization"]["id"]
        .as_str()
        .or_else(|| registered["organization_id"].as_str())
        .map(str::to_string);

    // The request's span continues the caller's trace, named by its route.
    let request: Exported = eventually(
        "the request's span at the collector",
        Duration::from_secs(30),
        async || {
            collector
                .spans()
                .into_iter()
                .find(|s| s.trace_id() == TRACE_ID && s.parent_span_id() == CALLER_SPAN)
        },
    )
    .await;
    assert_eq!(request.service, "landlord-under-test");
    assert_eq!(
        request.span.name,
        "POST /api/v1/webhooks/endpoints/{id}/test"
    );
    assert_eq!(
        request.attribute("http.response.status_code").as_deref(),
        Some("202")
    );
    assert!(request
        .attribute("request_id")
        .is_some_and(|id| !id.is_empty()));
    if let Some(organization_id) = organization_id {
        assert_eq!(request.attribute("organization_id"), Some(organization_id));
    }

    // Its database queries are child spans: a statement summary, never a
    // bound value.
    let query: Exported = eventually(
        "a database query span under the request",
        Duration::from_secs(30),
        async || {
            collector.spans().into_iter().find(|s| {
                s.trace_id() == TRACE_ID
                    && s.parent_span_id() == request.span_id()
                    && s.span.name == "db.query"
            })
        },
    )
    .await;
    assert_eq!(query.attribute("db.system").as_deref(), Some("sqlite"));
    let statement = query.attribute("db.statement").expect("a statement");
    assert!(!statement.is_empty());
    assert!(!statement.contains("t@traced.test"), "{statement}");

    // The delivery, queued by the request and sent later by the worker,
    // is in the same trace: a client span whose traceparent the receiver
    // got, under the job's span, under the request's.
    let received = receiver.wait_for("/hook", 1).await;
    let traceparent = received[0]
        .headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .expect("a traceparent on the delivery")
        .to_string();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[1], TRACE_ID, "the delivery is in the request's trace");
    let delivery: Exported = eventually(
        "the delivery's span at the collector",
        Duration::from_secs(30),
        async || {
            collector
                .spans()
                .into_iter()
                .find(|s| s.trace_id() == parts[1] && s.span_id() == parts[2])
        },
    )
    .await;
    assert_eq!(delivery.span.name, "POST webhook");
    assert_eq!(
        delivery.attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    // It is a child: of the job that sent it, itself a child of the
    // request that queued it.
    let job = eventually(
        "the delivery job's span",
        Duration::from_secs(30),
        async || {
            collector
                .spans()
                .into_iter()
                .find(|s| s.span_id() == delivery.parent_span_id())
        },
    )
    .await;
    assert_eq!(job.span.name, "job webhooks.deliver");
    assert_eq!(job.trace_id(), TRACE_ID);
    assert_eq!(job.parent_span_id(), request.span_id());

    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
}

#[tokio::test]
async fn redis_calls_are_client_spans_of_the_request() {
    let Some(redis) =
        RedisServer::start("traces::redis_calls_are_client_spans_of_the_request").await
    else {
        return;
    };
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = landlord(&dir);
    command
        .env("LANDLORD_OTLP_ENDPOINT", &collector.base)
        .env("LANDLORD_REDIS_URL", redis.url());
    let mut server = start(command);
    let base = format!("http://{}", server.address.replace("0.0.0.0", "127.0.0.1"));
    let http = reqwest::Client::new();
    let registered = data(
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"organization_name": "Shared", "name": "S", "email": "s@shared.test", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = registered["access_token"].as_str().expect("a token");
    let created = data(
        http.post(format!("{base}/api/v1/keys"))
            .bearer_auth(token)
            .json(&json!({"name": "traced"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let secret = created["key"].as_str().expect("the key's secret");

    // The key's first request takes a lease of its rate limit from Redis.
    let verified = http
        .post(format!("{base}/api/v1/keys/verify"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .json(&json!({ "key": secret }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let request: Exported = eventually(
        "the verification's span",
        Duration::from_secs(30),
        async || {
            collector
                .spans()
                .into_iter()
                .find(|s| s.trace_id() == TRACE_ID && s.parent_span_id() == CALLER_SPAN)
        },
    )
    .await;
    assert_eq!(request.span.name, "POST /api/v1/keys/verify");
    let call: Exported = eventually(
        "a Redis call under the verification",
        Duration::from_secs(30),
        async || {
            collector.spans().into_iter().find(|s| {
                s.trace_id() == TRACE_ID
                    && s.parent_span_id() == request.span_id()
                    && s.attribute("db.system").as_deref() == Some("redis")
            })
        },
    )
    .await;
    assert_eq!(call.span.name, "redis EVALSHA");
    assert_eq!(
        call.attribute("db.operation.name").as_deref(),
        Some("EVALSHA")
    );
    // A client span (OTLP's SPAN_KIND_CLIENT), not marked as an error.
    assert_eq!(call.span.kind, 3);
    assert_ne!(call.span.status.as_ref().map(|s| s.code), Some(2));

    send_sigterm(&server.child);
    assert!(wait_for_exit(&mut server.child).success());
}
