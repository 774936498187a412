//! Outgoing webhooks (issue 13, items 2–4): endpoints and their rules,
//! delivery signed per Standard Webhooks and verified with the
//! specification's reference library (its Rust port, `standardwebhooks`),
//! retries with a stable `webhook-id`, no delivery to private addresses,
//! disabling after sustained failure, secret rotation, resend and recover
//! — against a receiver each test starts, on SQLite and PostgreSQL.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use landlord::settings::Settings as Config;
use landlord_core::Timestamp;
use landlord_webhooks::config::WebhooksConfig;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::{data, signed_in, PASSWORD};
use crate::support::app::json;
use crate::support::clock::{now_ms, now_secs};
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::receiver::signature_verifies;
use crate::support::team::Team;
use crate::support::{Backend, TestApp};

backend_tests!(
    deliveries_are_signed_and_verify_with_the_reference_library,
    endpoints_receive_only_their_types_and_their_organizations_events,
    a_500_and_a_timeout_are_retried_under_one_webhook_id,
    private_and_plain_http_addresses_are_refused_at_creation,
    ipv6_transition_addresses_and_service_ports_are_refused,
    forty_concurrent_creations_leave_exactly_the_endpoint_limit,
    a_name_that_resolves_to_a_private_address_gets_no_delivery,
    an_endpoint_failing_for_days_is_disabled_and_its_owners_mailed,
    an_endpoint_answering_410_is_disabled_at_once,
    a_rotation_signs_with_both_secrets_for_a_day,
    resend_and_recover_deliver_failed_messages_again,
    a_resend_never_runs_beside_an_attempt_in_flight,
    a_killed_instances_attempt_is_logged_interrupted_and_taken_over_within_the_lease,
    a_test_message_goes_to_its_endpoint_only,
    endpoints_refuse_bad_input_naming_the_field,
    members_and_other_organizations_reach_no_endpoint,
);

// ---- the receiver --------------------------------------------------------------------

/// How the receiver answers one request.
#[derive(Clone, Debug)]
enum Answer {
    Status(u16),
    /// A status with `Retry-After: secs`.
    RetryAfter(u16, u64),
    /// No answer for this long (past the test's timeout).
    Hang(Duration),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    at: Instant,
    headers: HeaderMap,
    body: Bytes,
    /// What it answered.
    status: u16,
}

impl Received {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    fn id(&self) -> String {
        self.header("webhook-id")
    }

    fn body(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn verifies(&self, secret: &str) -> bool {
        signature_verifies(secret, &self.headers, &self.body)
    }
}

#[derive(Default)]
struct ReceiverState {
    /// Answers to give first, in order; then `otherwise`.
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Option<Answer>>,
    seen: Mutex<Vec<Received>>,
    in_flight: Mutex<HashMap<String, usize>>,
    most_in_flight: AtomicUsize,
}

/// Counts a request in flight for its `webhook-id` until dropped (also
/// when the sender gave up and the connection closed).
struct InFlight(Arc<ReceiverState>, String);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut map) = self.0.in_flight.lock() {
            if let Some(n) = map.get_mut(&self.1) {
                *n -= 1;
            }
        }
    }
}

/// A webhook receiver on 127.0.0.1 that answers as scripted and records
/// every request.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let _guard = {
        let mut map = state.in_flight.lock().unwrap();
        let n = map.entry(id.clone()).or_default();
        *n += 1;
        state.most_in_flight.fetch_max(*n, Ordering::SeqCst);
        InFlight(state.clone(), id)
    };
    let answer = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.otherwise.lock().unwrap().clone())
        .unwrap_or(Answer::Status(200));
    let (status, retry_after) = match answer {
        Answer::Status(s) => (s, None),
        Answer::RetryAfter(s, secs) => (s, Some(secs)),
        Answer::Hang(wait) => {
            tokio::time::sleep(wait).await;
            (200, None)
        }
    };
    state.seen.lock().unwrap().push(Received {
        at: Instant::now(),
        headers,
        body,
        status,
    });
    let status = StatusCode::from_u16(status).unwrap();
    let text = format!("receiver says {}", status.as_u16());
    match retry_after {
        Some(secs) => (status, [("retry-after", secs.to_string())], text).into_response(),
        None => (status, text).into_response(),
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let state: Arc<ReceiverState> = Arc::default();
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, state }
    }

    fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    fn otherwise(&self, answer: Answer) {
        *self.state.otherwise.lock().unwrap() = Some(answer);
    }

    fn seen(&self) -> Vec<Received> {
        self.state.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(
            format!("{count} webhook request(s)"),
            Duration::from_secs(30),
            async || {
                let seen = self.seen();
                (seen.len() >= count).then_some(seen)
            },
        )
        .await
    }
}

// ---- helpers ---------------------------------------------------------------------------

/// Test settings: quick retries without jitter, a short timeout.
fn quick(config: &mut Config, retries_ms: &[u64]) {
    config.webhooks = WebhooksConfig {
        retry_delays_ms: retries_ms.to_vec(),
        jitter_percent: 0,
        timeout_ms: 500,
        ..config.webhooks.clone()
    };
}

/// Creates an endpoint; returns its id and secret.
async fn endpoint(app: &TestApp, token: &str, body: Value) -> (String, String) {
    let created = data(
        app.post_as("/api/v1/webhooks/endpoints", token, &body)
            .await,
    )
    .await;
    (
        created["endpoint"]["id"].as_str().unwrap().to_string(),
        created["secret"].as_str().unwrap().to_string(),
    )
}

/// Renames the organization: one `organization.updated` event.
async fn rename(app: &TestApp, token: &str, name: &str) {
    let response = app
        .client
        .patch(app.url("/api/v1/organization"))
        .bearer_auth(token)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "rename");
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The endpoint's attempts, newest first.
async fn attempts(app: &TestApp, token: &str, endpoint_id: &str) -> Vec<Value> {
    let body = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/attempts?limit=100"),
            token,
        )
        .await,
    )
    .await;
    body.as_array().unwrap().clone()
}

async fn wait_for_attempts(
    app: &TestApp,
    token: &str,
    endpoint_id: &str,
    count: usize,
) -> Vec<Value> {
    eventually(
        format!("{count} attempt(s) logged"),
        Duration::from_secs(30),
        async || {
            // Ended ones: an attempt is logged in flight before it is sent.
            let logged = attempts(app, token, endpoint_id).await;
            let ended = logged.iter().all(|a| a["outcome"] != "in_flight");
            (logged.len() >= count && ended).then_some(logged)
        },
    )
    .await
}

async fn get_endpoint(app: &TestApp, token: &str, id: &str) -> Value {
    data(
        app.get_as(&format!("/api/v1/webhooks/endpoints/{id}"), token)
            .await,
    )
    .await
}

// ---- delivery ----------------------------------------------------------------------------

async fn deliveries_are_signed_and_verify_with_the_reference_library(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start().await;
    let (token, registered) = signed_in(&app, "hooks@example.com").await;
    let (endpoint_id, secret) = endpoint(
        &app,
        &token,
        json!({ "url": receiver.url, "description": "our backend" }),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    rename(&app, &token, "Hooked Inc").await;

    let request = receiver.wait_for(1).await.remove(0);
    assert!(
        request.verifies(&secret),
        "the reference library verifies it"
    );
    assert!(
        !request.verifies(&landlord_webhooks::endpoint::new_secret()),
        "another secret does not"
    );
    let events = data(
        app.get_as("/api/v1/events?type=organization.updated", &token)
            .await,
    )
    .await;
    let event = &events[0];
    assert_eq!(
        request.id(),
        event["id"].as_str().unwrap(),
        "webhook-id is the event id"
    );
    let body = request.body();
    assert_eq!(body["type"], "organization.updated");
    assert_eq!(body["id"], event["id"]);
    assert_eq!(body["data"]["name"], "Hooked Inc");
    assert_eq!(
        body["data"]["organization_id"],
        registered["organization"]["id"]
    );
    assert_eq!(body["timestamp"], event["created_at"]);
    let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
    assert!((timestamp - now_secs()).abs() < 60);
    assert_eq!(request.header("content-type"), "application/json");

    let logged = wait_for_attempts(&app, &token, &endpoint_id, 1).await;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0]["succeeded"], true);
    assert_eq!(logged[0]["status_code"], 200);
    assert_eq!(logged[0]["attempt"], 1);
    assert_eq!(logged[0]["cause"], "scheduled");
    assert_eq!(logged[0]["message_id"], event["id"]);
    assert_eq!(logged[0]["response_excerpt"], "receiver says 200");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 1, "delivered once");
}

async fn endpoints_receive_only_their_types_and_their_organizations_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let everything = Receiver::start().await;
    let keys_only = Receiver::start().await;
    let neighbour = Receiver::start().await;
    let (token, _) = signed_in(&app, "alpha@example.com").await;
    let (other, _) = signed_in(&app, "beta@example.com").await;
    endpoint(&app, &token, json!({ "url": everything.url })).await;
    endpoint(
        &app,
        &token,
        json!({ "url": keys_only.url, "event_types": ["api_key.created"] }),
    )
    .await;
    endpoint(&app, &other, json!({ "url": neighbour.url })).await;

    rename(&app, &token, "Alpha Two").await;
    let key = data(
        app.post_as("/api/v1/keys", &token, &json!({ "name": "ci" }))
            .await,
    )
    .await;
    let seen = everything.wait_for(2).await;
    let types: Vec<Value> = seen.iter().map(|r| r.body()["type"].clone()).collect();
    assert!(types.contains(&json!("organization.updated")), "{types:?}");
    assert!(types.contains(&json!("api_key.created")), "{types:?}");
    let keyed = keys_only.wait_for(1).await;
    assert_eq!(keyed[0].body()["type"], "api_key.created");
    assert_eq!(keyed[0].body()["data"]["api_key_id"], key["id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        keys_only.seen().len(),
        1,
        "the filtered endpoint got its type only"
    );
    assert!(
        neighbour.seen().is_empty(),
        "another organization's endpoint gets nothing"
    );
}

async fn a_500_and_a_timeout_are_retried_under_one_webhook_id(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| quick(c, &[100, 100, 100, 100])).await;
    let receiver = Receiver::start().await;
    let (token, _) = signed_in(&app, "retry@example.com").await;
    let (endpoint_id, secret) = endpoint(&app, &token, json!({ "url": receiver.url })).await;
    receiver.script([
        Answer::Status(500),
        Answer::Hang(Duration::from_secs(3)),
        Answer::RetryAfter(503, 1),
        Answer::Status(204),
    ]);
    rename(&app, &token, "Retry Co").await;

    let logged = wait_for_attempts(&app, &token, &endpoint_id, 4).await;
    let seen = receiver.wait_for(3).await;
    let ids: Vec<String> = seen.iter().map(Received::id).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one webhook-id: {ids:?}"
    );
    assert!(
        seen.iter().all(|r| r.verifies(&secret)),
        "each attempt signed"
    );
    // The receiver deduplicates on webhook-id: it processed the event once.
    let processed: Vec<&Received> = seen.iter().filter(|r| r.status < 300).collect();
    assert_eq!(processed.len(), 1);

    let by_attempt: Vec<(i64, Value, bool)> = logged
        .iter()
        .rev()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status_code"].clone(),
                a["succeeded"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_attempt,
        [
            (1, json!(500), false),
            (2, Value::Null, false),
            (3, json!(503), false),
            (4, json!(204), true),
        ]
    );
    let timed_out = &logged[2];
    assert!(
        timed_out["error"].as_str().unwrap().contains("timed out"),
        "{timed_out}"
    );
    // Retry-After: 1 asked for a second where the schedule said 100 ms.
    let asked = seen.iter().find(|r| r.status == 503).unwrap().at;
    let after = seen.iter().find(|r| r.status == 204).unwrap().at;
    assert!(after.duration_since(asked) >= Duration::from_millis(950));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        attempts(&app, &token, &endpoint_id).await.len(),
        4,
        "no attempt after success"
    );
    assert!(get_endpoint(&app, &token, &endpoint_id).await["failing_since"].is_null());
}

async fn private_and_plain_http_addresses_are_refused_at_creation(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.webhooks.allow_private_addresses = false;
        c.webhooks.allow_http = false;
    })
    .await;
    let (token, _) = signed_in(&app, "ssrf@example.com").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://100.64.0.1/hook",
    ] {
        let response = app
            .post_as("/api/v1/webhooks/endpoints", &token, &json!({ "url": url }))
            .await;
        let body = assert_invalid_field(response, "url").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("private"),
            "{url}: {body}"
        );
    }
    let response = app
        .post_as(
            "/api/v1/webhooks/endpoints",
            &token,
            &json!({ "url": "http://hooks.example.com/x" }),
        )
        .await;
    let body = assert_invalid_field(response, "url").await;
    assert!(body["error"]["message"].as_str().unwrap().contains("https"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_endpoints", &[])
            .await,
        0
    );
}

async fn ipv6_transition_addresses_and_service_ports_are_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.webhooks.allow_private_addresses = false;
        c.webhooks.allow_http = false;
    })
    .await;
    let (token, _) = signed_in(&app, "transition@example.com").await;
    for url in [
        // 6to4 of 127.0.0.1.
        "https://[2002:7f00:1::]/",
        // Teredo: server 8.8.8.8, client 127.0.0.1 (inverted).
        "https://[2001:0:808:808::80ff:fffe]/",
        // Teredo: server 10.0.0.1.
        "https://[2001:0:a00:1::f7f7:f7f7]/",
        // Local-use NAT64.
        "https://[64:ff9b:1::808:808]/",
        // SIIT's translated form of 169.254.169.254.
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data",
    ] {
        let response = app
            .post_as("/api/v1/webhooks/endpoints", &token, &json!({ "url": url }))
            .await;
        let body = assert_invalid_field(response, "url").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("private"),
            "{url}: {body}"
        );
    }
    for url in ["https://1.1.1.1:22/", "https://8.8.8.8:25/hook"] {
        let response = app
            .post_as("/api/v1/webhooks/endpoints", &token, &json!({ "url": url }))
            .await;
        let body = assert_invalid_field(response, "url").await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains("port"),
            "{url}: {body}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_endpoints", &[])
            .await,
        0
    );
    // The same address check allows a public address behind 6to4 and a
    // high port: an IP literal is not resolved, so this saves offline.
    let response = app
        .post_as(
            "/api/v1/webhooks/endpoints",
            &token,
            &json!({ "url": "https://[2002:808:808::1]:8443/hook" }),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn forty_concurrent_creations_leave_exactly_the_endpoint_limit(backend: Backend) {
    // On PostgreSQL two instances share the database, as in production;
    // SQLite serves one instance.
    let first = TestApp::spawn_with(backend, shared_secrets).await;
    let second = match backend {
        Backend::Postgres => {
            let database = first.database_url();
            Some(
                TestApp::spawn_with(backend, |c| {
                    shared_secrets(c);
                    c.database_url = Some(database);
                })
                .await,
            )
        }
        Backend::Sqlite => None,
    };
    let (token, _) = signed_in(&first, "limit@example.com").await;
    let creations = (0..40).map(|n| {
        let app = match (&second, n % 2) {
            (Some(second), 1) => second,
            _ => &first,
        };
        let token = &token;
        async move {
            app.post_as(
                "/api/v1/webhooks/endpoints",
                token,
                &json!({ "url": format!("http://127.0.0.1:9/hooks/{n}") }),
            )
            .await
        }
    });
    let answers = futures::future::join_all(creations).await;
    let mut created = 0;
    let mut refused = 0;
    for answer in answers {
        match answer.status().as_u16() {
            201 => created += 1,
            409 => {
                let body = answer.json::<Value>().await.unwrap();
                assert_eq!(body["error"]["code"], "CONFLICT", "{body}");
                refused += 1;
            }
            other => panic!(
                "creation answered {other}: {}",
                answer.text().await.unwrap()
            ),
        }
    }
    assert_eq!((created, refused), (20, 20));
    let listed = data(
        first
            .get_as("/api/v1/webhooks/endpoints?limit=100", &token)
            .await,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 20);
}

async fn a_name_that_resolves_to_a_private_address_gets_no_delivery(backend: Backend) {
    // A first server, allowing private addresses, saves the endpoints; it
    // neither dispatches nor polls jobs, so the second does all the work.
    let receiver = Receiver::start().await;
    let first = TestApp::spawn_with(backend, |c| {
        shared_secrets(c);
        c.webhooks.dispatch = false;
        c.jobs_poll_interval_ms = 3_600_000;
    })
    .await;
    let (token, _) = signed_in(&first, "rebind@example.com").await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (named, _) = endpoint(&first, &token, json!({ "url": by_name })).await;
    let (literal, _) = endpoint(&first, &token, json!({ "url": receiver.url })).await;

    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        shared_secrets(c);
        c.database_url = Some(database);
        c.webhooks.allow_private_addresses = false;
    })
    .await;
    rename(&second, &token, "Rebound").await;
    for id in [&named, &literal] {
        let logged = wait_for_attempts(&second, &token, id, 1).await;
        assert_eq!(logged[0]["succeeded"], false);
        assert!(logged[0]["status_code"].is_null());
        let error = logged[0]["error"].as_str().unwrap();
        assert!(
            error.contains("private") || error.contains("no address"),
            "{id}: {error}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.seen().is_empty(),
        "no request reached the receiver"
    );
}

/// The keys two servers on one database share (tokens, sealed secrets).
fn shared_secrets(config: &mut Config) {
    config.token_signing_key = Some("a token signing key for two servers, 32+".into());
    config.payload_encryption_key = Some("a payload key for two servers, long enough".into());
}

async fn an_endpoint_failing_for_days_is_disabled_and_its_owners_mailed(backend: Backend) {
    let team = Team::new_with(backend, "failing", |c| quick(c, &[60_000])).await;
    let app = &team.app;
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::Status(500));
    let (endpoint_id, _) = endpoint(
        app,
        &team.owner,
        json!({ "url": receiver.url, "event_types": ["organization.updated"] }),
    )
    .await;
    rename(app, &team.owner, "Failing One").await;
    wait_for_attempts(app, &team.owner, &endpoint_id, 1).await;
    let failing = get_endpoint(app, &team.owner, &endpoint_id).await;
    assert_eq!(failing["enabled"], true);
    assert!(failing["failing_since"].is_string(), "{failing}");

    // The test's clock: the streak began five days and a minute ago.
    let five_days_ago = now_ms() - (5 * 24 * 60 + 1) * 60_000;
    sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2")
        .bind(five_days_ago)
        .bind(&endpoint_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    rename(app, &team.owner, "Failing Two").await;
    let disabled = eventually(
        "the endpoint disabled",
        Duration::from_secs(30),
        async || {
            let e = get_endpoint(app, &team.owner, &endpoint_id).await;
            (e["enabled"] == false).then_some(e)
        },
    )
    .await;
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed since"),
        "{disabled}"
    );
    let mail = team
        .smtp
        .wait_for_subject("failing-owner@example.com", "Webhook endpoint disabled")
        .await;
    assert!(
        mail.decoded().contains(&receiver.url),
        "the mail names the URL"
    );
    assert!(
        !team
            .smtp
            .received()
            .iter()
            .any(|m| m.to.iter().any(|t| t.starts_with("failing-admin"))
                && m.subject().contains("Webhook endpoint disabled")),
        "owners only"
    );

    // Disabled: new events are not delivered; its retries stop.
    let before = receiver.seen().len();
    rename(app, &team.owner, "Failing Three").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.seen().len(), before);
    let response = app
        .post_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/test"),
            &team.owner,
            &json!({}),
        )
        .await;
    assert_error(response, 409, "CONFLICT").await;

    // Enabled again by a person: the streak is cleared, delivery resumes.
    receiver.otherwise(Answer::Status(200));
    let enabled = data(
        patch(
            app,
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}"),
            &team.owner,
            json!({ "enabled": true }),
        )
        .await,
    )
    .await;
    assert!(enabled["failing_since"].is_null() && enabled["disabled_reason"].is_null());
    rename(app, &team.owner, "Failing Four").await;
    receiver.wait_for(before + 1).await;
}

async fn an_endpoint_answering_410_is_disabled_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| quick(c, &[100, 100])).await;
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::Status(410));
    let (token, _) = signed_in(&app, "gone@example.com").await;
    let (endpoint_id, _) = endpoint(&app, &token, json!({ "url": receiver.url })).await;
    rename(&app, &token, "Gone Co").await;
    let gone = eventually("disabled", Duration::from_secs(30), async || {
        let e = get_endpoint(&app, &token, &endpoint_id).await;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    assert!(gone["disabled_reason"].as_str().unwrap().contains("410"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.seen().len(), 1, "no retry after 410");
    // Operator alerts count outgoing attempts: one attempt, failed.
    let rate = landlord_alerts::evaluate::measure(
        &app.db,
        landlord_alerts::config::AlertSignal::WebhookFailureRate,
        Duration::from_secs(3600),
        Timestamp::now(),
        landlord_alerts::RequestLog::Raw,
    )
    .await
    .unwrap();
    assert_eq!(rate, 100.0);
}

async fn a_rotation_signs_with_both_secrets_for_a_day(backend: Backend) {
    let team = Team::new(backend, "rotation").await;
    let app = &team.app;
    let receiver = Receiver::start().await;
    let (endpoint_id, old) = endpoint(
        app,
        &team.admin,
        json!({ "url": receiver.url, "event_types": ["organization.updated"] }),
    )
    .await;
    let secret_path = format!("/api/v1/webhooks/endpoints/{endpoint_id}/secret");
    let rotate_path = format!("/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret");
    // After creation the secret is the owners' only.
    assert_error(
        app.get_as(&secret_path, &team.admin).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post_as(&rotate_path, &team.admin, &json!({})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    let shown = data(app.get_as(&secret_path, &team.owner).await).await;
    assert_eq!(shown["secret"], old.as_str());
    assert!(shown["previous_secret"].is_null());

    let rotated = data(app.post_as(&rotate_path, &team.owner, &json!({})).await).await;
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["previous_secret"], old.as_str());
    let expires =
        Timestamp::parse_rfc3339(rotated["previous_secret_expires_at"].as_str().unwrap()).unwrap();
    let hours = (expires.millis() - now_ms()) as f64 / 3_600_000.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");

    rename(app, &team.owner, "Rotated").await;
    let request = receiver.wait_for(1).await.remove(0);
    let signatures = request.header("webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(request.verifies(&new), "the new secret verifies");
    assert!(request.verifies(&old), "the old secret still verifies");

    // A day later the old secret stops signing.
    sqlx::query("UPDATE webhook_endpoints SET previous_secret_until = $1 WHERE id = $2")
        .bind(now_ms() - 1)
        .bind(&endpoint_id)
        .execute(app.db.pool())
        .await
        .unwrap();
    rename(app, &team.owner, "Rotated Again").await;
    let request = receiver.wait_for(2).await.remove(1);
    assert_eq!(request.header("webhook-signature").split(' ').count(), 1);
    assert!(request.verifies(&new));
    assert!(!request.verifies(&old));
    let shown = data(app.get_as(&secret_path, &team.owner).await).await;
    assert!(shown["previous_secret"].is_null());
}

async fn resend_and_recover_deliver_failed_messages_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| quick(c, &[50])).await;
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::Status(500));
    let (token, _) = signed_in(&app, "recover@example.com").await;
    let (endpoint_id, _) = endpoint(&app, &token, json!({ "url": receiver.url })).await;
    let start = Timestamp::now().rfc3339();
    for name in ["One", "Two", "Three"] {
        rename(&app, &token, name).await;
    }
    // Two attempts each (the schedule has one retry), then failed.
    wait_for_attempts(&app, &token, &endpoint_id, 6).await;
    eventually("three failed deliveries", Duration::from_secs(30), async || {
        let n = app
            .count(
                "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'failed'",
                &[&endpoint_id],
            )
            .await;
        (n == 3).then_some(())
    })
    .await;
    receiver.otherwise(Answer::Status(200));

    let events = data(
        app.get_as("/api/v1/events?type=organization.updated", &token)
            .await,
    )
    .await;
    let first = events.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resent = app
        .post_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/messages/{first}/resend"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(resent.status(), 202);
    let seen = receiver.wait_for(7).await;
    assert_eq!(seen[6].id(), first, "resent under its own webhook-id");
    assert_eq!(seen[6].status, 200);
    let logged = wait_for_attempts(&app, &token, &endpoint_id, 7).await;
    assert_eq!(logged[0]["cause"], "resend");
    assert_eq!(logged[0]["attempt"], 3);

    let recovered = app
        .post_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/recover"),
            &token,
            &json!({ "since": start }),
        )
        .await;
    assert_eq!(recovered.status(), 202);
    let recovered = json(recovered).await;
    assert_eq!(recovered["data"]["recovered"], 2, "the two still failed");
    assert_eq!(recovered["data"]["more"], false);
    let seen = receiver.wait_for(9).await;
    let mut delivered: Vec<String> = seen
        .iter()
        .filter(|r| r.status == 200)
        .map(Received::id)
        .collect();
    delivered.sort();
    let mut expected: Vec<String> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(delivered, expected, "each message delivered once");
    let logged = wait_for_attempts(&app, &token, &endpoint_id, 9).await;
    assert!(logged[..2].iter().all(|a| a["cause"] == "recover"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 9);

    // Bad input and a message of nobody.
    let response = app
        .post_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/recover"),
            &token,
            &json!({ "since": "yesterday" }),
        )
        .await;
    assert_invalid_field(response, "since").await;
    let response = app
        .post_as(
            &format!(
                "/api/v1/webhooks/endpoints/{endpoint_id}/messages/{}/resend",
                uuid::Uuid::now_v7()
            ),
            &token,
            &json!({}),
        )
        .await;
    assert_error(response, 404, "NOT_FOUND").await;
}

async fn a_resend_never_runs_beside_an_attempt_in_flight(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        quick(c, &[100]);
        c.webhooks.timeout_ms = 5_000;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::Hang(Duration::from_millis(1_500))]);
    let (token, _) = signed_in(&app, "inflight@example.com").await;
    let (endpoint_id, _) = endpoint(&app, &token, json!({ "url": receiver.url })).await;
    rename(&app, &token, "In Flight").await;
    // Wait until the first attempt is being answered, then resend twice.
    eventually(
        "an attempt in flight",
        Duration::from_secs(30),
        async || {
            let busy = receiver
                .state
                .in_flight
                .lock()
                .unwrap()
                .values()
                .any(|n| *n > 0);
            busy.then_some(())
        },
    )
    .await;
    let event = &data(
        app.get_as("/api/v1/events?type=organization.updated", &token)
            .await,
    )
    .await[0];
    let id = event["id"].as_str().unwrap();
    for _ in 0..2 {
        let response = app
            .post_as(
                &format!("/api/v1/webhooks/endpoints/{endpoint_id}/messages/{id}/resend"),
                &token,
                &json!({}),
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    receiver.wait_for(2).await;
    wait_for_attempts(&app, &token, &endpoint_id, 2).await;
    assert_eq!(
        receiver.state.most_in_flight.load(Ordering::SeqCst),
        1,
        "never two attempts of one message at once"
    );
}

async fn a_killed_instances_attempt_is_logged_interrupted_and_taken_over_within_the_lease(
    backend: Backend,
) {
    let receiver = Receiver::start().await;
    // The first attempt is never answered while its instance lives.
    receiver.script([Answer::Hang(Duration::from_secs(300))]);
    receiver.otherwise(Answer::Status(200));
    // The instance that dies: the binary, killed with SIGKILL mid-attempt.
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("landlord.toml");
    std::fs::write(
        &settings,
        "jobs_lease_secs = 2\njobs_poll_interval_ms = 50\nbilling_schedule = false\n\
         [webhooks]\nallow_http = true\nallow_private_addresses = true\n\
         dispatch_interval_ms = 50\ntimeout_ms = 120000\n",
    )
    .unwrap();
    let database_url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("landlord.db").display()
        ),
        Backend::Postgres => crate::support::app::fresh_postgres_database().await,
    };
    let mut command = crate::support::binary::landlord(&dir);
    command
        .env("LANDLORD_CONFIG", &settings)
        .env("DATABASE_URL", &database_url);
    let mut doomed = crate::support::binary::start(command);
    let http = reqwest::Client::new();
    let at = |path: &str| format!("http://{}{path}", doomed.address);
    let registered = data(
        http.post(at("/api/v1/auth/register"))
            .json(&json!({"organization_name": "Doomed", "name": "Test User", "email": "doomed@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    let created = data(
        http.post(at("/api/v1/webhooks/endpoints"))
            .bearer_auth(&token)
            .json(&json!({ "url": receiver.url }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let endpoint_id = created["endpoint"]["id"].as_str().unwrap().to_string();
    let renamed = http
        .patch(at("/api/v1/organization"))
        .bearer_auth(&token)
        .json(&json!({ "name": "Renamed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    eventually(
        "the doomed instance's attempt in flight",
        Duration::from_secs(30),
        async || {
            let busy = receiver
                .state
                .in_flight
                .lock()
                .unwrap()
                .values()
                .any(|n| *n > 0);
            busy.then_some(())
        },
    )
    .await;
    doomed.child.kill().unwrap();
    doomed.child.wait().unwrap();

    // Another instance on the same database (and the same data directory:
    // the same signing keys) takes the delivery over once the dead one's
    // lease lapses — seconds, not the minutes of a fixed lock.
    let survivor = TestApp::spawn_with(backend, |c| {
        c.data_dir = dir.path().to_path_buf();
        c.database_url = Some(database_url.clone().into());
        c.jobs_lease_secs = 2;
        c.webhooks.timeout_ms = 5_000;
    })
    .await;
    let delivered = eventually(
        "the delivery taken over by the surviving instance",
        Duration::from_secs(20),
        async || {
            let seen = receiver.seen();
            (!seen.is_empty()).then_some(seen)
        },
    )
    .await;
    assert_eq!(delivered[0].status, 200);
    let logged = eventually("the attempts logged", Duration::from_secs(30), async || {
        let logged = attempts(&survivor, &token, &endpoint_id).await;
        (logged.len() >= 2 && logged[0]["outcome"] != "in_flight").then_some(logged)
    })
    .await;
    assert_eq!(logged.len(), 2, "{logged:#?}");
    let (newest, cut_off) = (&logged[0], &logged[1]);
    assert_eq!(cut_off["outcome"], "interrupted");
    assert_eq!(cut_off["succeeded"], false);
    assert_eq!(cut_off["attempt"], 1);
    assert!(
        cut_off["error"].as_str().unwrap().contains("interrupted"),
        "{cut_off}"
    );
    assert_eq!(newest["outcome"], "completed");
    assert_eq!(newest["succeeded"], true);
    assert_eq!(newest["attempt"], 2);
    assert_eq!(newest["message_id"], cut_off["message_id"]);
    assert_eq!(delivered[0].id(), newest["message_id"].as_str().unwrap());
}

async fn a_test_message_goes_to_its_endpoint_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tested = Receiver::start().await;
    let other = Receiver::start().await;
    let (token, _) = signed_in(&app, "tester@example.com").await;
    let (endpoint_id, secret) = endpoint(&app, &token, json!({ "url": tested.url })).await;
    endpoint(&app, &token, json!({ "url": other.url })).await;
    let queued = app
        .post_as(
            &format!("/api/v1/webhooks/endpoints/{endpoint_id}/test"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(queued.status(), 202);
    let queued = json(queued).await["data"].clone();
    let request = tested.wait_for(1).await.remove(0);
    assert!(request.verifies(&secret));
    assert_eq!(request.body()["type"], "webhook.test");
    assert_eq!(request.id(), queued["message_id"].as_str().unwrap());
    let logged = wait_for_attempts(&app, &token, &endpoint_id, 1).await;
    assert_eq!(logged[0]["cause"], "test");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(other.seen().is_empty(), "the other endpoint gets no test");
}

// ---- the API's rules -------------------------------------------------------------------

async fn endpoints_refuse_bad_input_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (token, _) = signed_in(&app, "input@example.com").await;
    let create = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post_as("/api/v1/webhooks/endpoints", &token, &body)
                .await
        }
    };
    assert_invalid_field(create(json!({ "url": "" })).await, "url").await;
    assert_invalid_field(create(json!({ "url": "ftp://example.com/x" })).await, "url").await;
    assert_invalid_field(
        create(json!({ "url": "https://user:pw@example.com/x" })).await,
        "url",
    )
    .await;
    assert_invalid_field(
        create(json!({ "url": format!("https://example.com/{}", "a".repeat(2100)) })).await,
        "url",
    )
    .await;
    assert_invalid_field(
        create(json!({ "url": "http://127.0.0.1:9/x", "event_types": ["invoice.lost"] })).await,
        "event_types",
    )
    .await;
    assert_invalid_field(
        create(json!({ "url": "http://127.0.0.1:9/x", "event_types": ["webhook.test"] })).await,
        "event_types",
    )
    .await;
    assert_invalid_field(
        create(json!({ "url": "http://127.0.0.1:9/x", "description": "d".repeat(501) })).await,
        "description",
    )
    .await;
    // Every wrong field at once.
    let body = assert_error(
        create(json!({ "url": "nope", "description": "d".repeat(501), "event_types": ["x"] }))
            .await,
        422,
        "VALIDATION_ERROR",
    )
    .await;
    let fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "description", "event_types"]);
    assert_error(
        create(json!({ "description": "no url" })).await,
        422,
        "VALIDATION_ERROR",
    )
    .await;

    // A good one, then changes.
    let (id, _) = endpoint(
        &app,
        &token,
        json!({ "url": "http://127.0.0.1:9/x", "event_types": ["invoice.paid", "invoice.paid"] }),
    )
    .await;
    let shown = get_endpoint(&app, &token, &id).await;
    assert_eq!(shown["event_types"], json!(["invoice.paid"]));
    assert_eq!(shown["enabled"], true);
    let path = format!("/api/v1/webhooks/endpoints/{id}");
    assert_invalid_field(
        patch(&app, &path, &token, json!({ "url": "mailto:x@y.z" })).await,
        "url",
    )
    .await;
    let changed = data(
        patch(
            &app,
            &path,
            &token,
            json!({ "description": "billing", "event_types": [], "enabled": false }),
        )
        .await,
    )
    .await;
    assert_eq!(changed["description"], "billing");
    assert_eq!(changed["event_types"], json!([]));
    assert_eq!(changed["enabled"], false);
    assert!(changed["disabled_reason"].is_null());
    assert_eq!(changed["url"], "http://127.0.0.1:9/x");
    let response = app
        .get_as(
            &format!("/api/v1/webhooks/endpoints/{id}/attempts?message_id=nope"),
            &token,
        )
        .await;
    assert_invalid_field(response, "message_id").await;
    let response = app
        .get_as(
            &format!("/api/v1/webhooks/endpoints/{id}/attempts?limit=0"),
            &token,
        )
        .await;
    assert_invalid_field(response, "limit").await;

    // Twenty endpoints at most.
    for n in 1..20 {
        endpoint(
            &app,
            &token,
            json!({ "url": format!("http://127.0.0.1:9/{n}") }),
        )
        .await;
    }
    let response = create(json!({ "url": "http://127.0.0.1:9/21" })).await;
    assert_error(response, 409, "CONFLICT").await;
    let listed = json(
        app.get_as("/api/v1/webhooks/endpoints?limit=15", &token)
            .await,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 15);
    let cursor = listed["meta"]["next_cursor"].as_str().unwrap();
    let rest = data(
        app.get_as(
            &format!("/api/v1/webhooks/endpoints?cursor={cursor}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 5);

    let deleted = app.delete_as(&path, &token).await;
    assert_eq!(deleted.status(), 200);
    assert_error(app.get_as(&path, &token).await, 404, "NOT_FOUND").await;
    let actions = app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.deleted')",
            &[],
        )
        .await;
    assert_eq!(actions, 22, "20 created, 1 updated, 1 deleted");
}

async fn members_and_other_organizations_reach_no_endpoint(backend: Backend) {
    let team = Team::new(backend, "walls").await;
    let app = &team.app;
    // Subscribed to invoices only: the rename below is not delivered.
    let (id, _) = endpoint(
        app,
        &team.owner,
        json!({ "url": "http://127.0.0.1:9/x", "event_types": ["invoice.paid"] }),
    )
    .await;
    rename(app, &team.owner, "Walls Two").await;
    let event = &data(app.get_as("/api/v1/events", &team.owner).await).await[0];
    let event_id = event["id"].as_str().unwrap().to_string();
    let (stranger, _) = signed_in(app, "stranger@example.com").await;
    let base = format!("/api/v1/webhooks/endpoints/{id}");
    let routes: Vec<(reqwest::Method, String, Value)> = vec![
        (reqwest::Method::GET, base.clone(), Value::Null),
        (
            reqwest::Method::PATCH,
            base.clone(),
            json!({ "enabled": false }),
        ),
        (reqwest::Method::GET, format!("{base}/secret"), Value::Null),
        (
            reqwest::Method::POST,
            format!("{base}/rotate-secret"),
            json!({}),
        ),
        (
            reqwest::Method::GET,
            format!("{base}/attempts"),
            Value::Null,
        ),
        (
            reqwest::Method::POST,
            format!("{base}/messages/{event_id}/resend"),
            json!({}),
        ),
        (
            reqwest::Method::POST,
            format!("{base}/recover"),
            json!({ "since": "2026-01-01T00:00:00Z" }),
        ),
        (reqwest::Method::POST, format!("{base}/test"), json!({})),
        (reqwest::Method::DELETE, base.clone(), Value::Null),
    ];
    let call = |method: reqwest::Method, path: String, body: Value, token: String| {
        let mut request = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(token);
        if !body.is_null() {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap() }
    };
    for (method, path, body) in &routes {
        // Another organization's owner: as if it did not exist.
        let response = call(method.clone(), path.clone(), body.clone(), stranger.clone()).await;
        assert_error(response, 404, "NOT_FOUND").await;
        // A member of this one: not allowed.
        let response = call(
            method.clone(),
            path.clone(),
            body.clone(),
            team.member.clone(),
        )
        .await;
        assert_error(response, 403, "FORBIDDEN").await;
        // A malformed id: not found.
        let malformed = path.replace(&id, "not-an-id");
        let response = call(method.clone(), malformed, body.clone(), team.owner.clone()).await;
        assert_error(response, 404, "NOT_FOUND").await;
    }
    let response = app.get_as("/api/v1/webhooks/endpoints", &stranger).await;
    assert_eq!(data(response).await, json!([]), "the stranger lists none");
    assert_error(
        app.get_as("/api/v1/webhooks/endpoints", &team.member).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post_as(
            "/api/v1/webhooks/endpoints",
            &team.member,
            &json!({ "url": "http://127.0.0.1:9/x" }),
        )
        .await,
        403,
        "FORBIDDEN",
    )
    .await;
    // Admins manage endpoints.
    let listed = data(app.get_as("/api/v1/webhooks/endpoints", &team.admin).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // Nothing of it changed.
    let still = get_endpoint(app, &team.owner, &id).await;
    assert_eq!(still["enabled"], true);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_attempts", &[])
            .await,
        0
    );
}
