//! SMS through Twilio (a local stand-in speaking its documented shapes),
//! its signed status callbacks, a delivery job that runs twice, and the
//! honest development outboxes — on SQLite and PostgreSQL. The signature
//! is also checked against Twilio's own Python library when it is
//! installed (always under CI).

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::backend_tests;
use crate::support::accounts::signed_in;
use crate::support::app::{json, report_skip, services_required};
use crate::support::errors::{assert_error, assert_invalid_field};
use crate::support::eventually::eventually;
use crate::support::keys::{create_key, email_message, message_view, set_plan};
use crate::support::twilio::{
    post_callback, status_params, Failure, TwilioStandIn, ACCOUNT_SID, AUTH_TOKEN, FROM,
};
use crate::support::{Backend, TestApp};

backend_tests!(
    an_sms_goes_to_twilio_and_signed_callbacks_move_it_forward_only,
    twilio_refusals_and_undelivered_messages_fail,
    a_delivery_job_run_twice_sends_once,
    a_callback_that_comes_before_twilios_answer_is_kept,
    development_outboxes_simulate_and_production_refuses_what_it_cannot_send,
);

/// A public address that is not loopback: a server others reach.
const PUBLIC_URL: &str = "https://sms.landlord.test";

fn sms_to(to: &str) -> Value {
    json!({"channel": "sms", "to": to, "body": "Your code is 123456"})
}

/// An owner's token and an API key of a new organization on `pro`.
async fn sender(app: &TestApp, email: &str) -> (String, String) {
    let (token, data) = signed_in(app, email).await;
    set_plan(app, data["organization"]["id"].as_str().unwrap(), "pro").await;
    let key = create_key(app, &token, json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    (token, key)
}

/// Sends `body` with `key`; answers the message's id.
async fn send(app: &TestApp, key: &str, body: &Value) -> String {
    let response = app.send_message(key, body, None).await;
    assert_eq!(response.status(), 202);
    let message = json(response).await["data"].clone();
    assert_eq!(message["status"], "queued");
    message["id"].as_str().unwrap().to_string()
}

/// Waits until message `id` has `status`; answers its view.
async fn wait_for_status(app: &TestApp, key: &str, id: &str, status: &str) -> Value {
    eventually(
        format_args!("message {id} to be {status}"),
        Duration::from_secs(15),
        async || {
            let view = message_view(app, key, id).await;
            (view["status"] == status).then_some(view)
        },
    )
    .await
}

/// The payloads of the organization's events of `event_type` about
/// message `id`.
async fn message_events(app: &TestApp, token: &str, event_type: &str, id: &str) -> Vec<Value> {
    let response = app
        .get_as(
            &format!("/api/v1/events?limit=100&type={event_type}"),
            token,
        )
        .await;
    assert_eq!(response.status(), 200);
    json(response).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["payload"].clone())
        .filter(|payload| payload["message_id"] == id)
        .collect()
}

async fn an_sms_goes_to_twilio_and_signed_callbacks_move_it_forward_only(backend: Backend) {
    let twilio = TwilioStandIn::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        twilio.configure(c);
    })
    .await;
    let (token, key) = sender(&app, "twilio@example.com").await;
    let id = send(&app, &key, &sms_to("+14155550123")).await;

    let requests = twilio.wait_for_requests(1).await;
    let request = &requests[0];
    assert_eq!(request.account_sid, ACCOUNT_SID);
    assert_eq!(request.credentials, format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    assert_eq!(request.param("To"), Some("+14155550123"));
    assert_eq!(request.param("From"), Some(FROM));
    assert_eq!(request.param("Body"), Some("Your code is 123456"));
    let callback = format!("{PUBLIC_URL}/api/v1/webhooks/twilio?message_id={id}");
    assert_eq!(request.param("StatusCallback"), Some(callback.as_str()));
    assert!(!request.sid.is_empty());

    // Sent: Twilio took it, under its SID.
    let view = wait_for_status(&app, &key, &id, "sent").await;
    assert_eq!(view["provider"], "twilio");
    assert_eq!(view["provider_message_id"], request.sid.as_str());
    assert!(view["sent_at"].is_string());
    assert!(view["delivered_at"].is_null());
    let sent = message_events(&app, &token, "message.sent", &id).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["channel"], "sms");

    // A wrong or missing signature is refused, and changes nothing.
    let delivered = status_params(&request.sid, "delivered", None);
    for signature in ["", "bm9wZQ==", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="] {
        assert_error(
            post_callback(&app, &callback, &delivered, Some(signature)).await,
            400,
            "INVALID_SIGNATURE",
        )
        .await;
    }
    let unsigned = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/twilio?message_id={id}")))
        .form(&delivered)
        .send()
        .await
        .unwrap();
    assert_error(unsigned, 400, "INVALID_SIGNATURE").await;
    // Signed for another message id (the URL is part of the signature).
    let other = format!(
        "{PUBLIC_URL}/api/v1/webhooks/twilio?message_id=0193a000-0000-7000-8000-000000000000"
    );
    let forged = crate::support::twilio::twilio_signature(AUTH_TOKEN, &other, &delivered);
    assert_error(
        post_callback(&app, &callback, &delivered, Some(&forged)).await,
        400,
        "INVALID_SIGNATURE",
    )
    .await;
    assert_eq!(message_view(&app, &key, &id).await["status"], "sent");

    // Signed: delivered.
    let response = post_callback(&app, &callback, &delivered, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["data"]["status"], "delivered");
    let view = message_view(&app, &key, &id).await;
    assert_eq!(view["status"], "delivered");
    assert!(view["delivered_at"].is_string());

    // Repeated, late or contradicting callbacks do not move it back.
    for status in ["delivered", "sent", "queued", "undelivered", "failed"] {
        let code = (status == "undelivered").then_some("30003");
        let params = status_params(&request.sid, status, code);
        let response = post_callback(&app, &callback, &params, None).await;
        assert_eq!(response.status(), 200, "{status}");
        assert!(json(response).await["data"]["status"].is_null(), "{status}");
        assert_eq!(message_view(&app, &key, &id).await["status"], "delivered");
    }
    // A callback configured on the Messaging Service (no message_id in
    // its URL) finds the message by its SID, and moves nothing either.
    let service_callback = format!("{PUBLIC_URL}/api/v1/webhooks/twilio");
    let response = post_callback(&app, &service_callback, &delivered, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(message_view(&app, &key, &id).await["status"], "delivered");

    assert_eq!(
        message_events(&app, &token, "message.sent", &id)
            .await
            .len(),
        1
    );
    assert!(message_events(&app, &token, "message.failed", &id)
        .await
        .is_empty());
    assert_eq!(twilio.requests().len(), 1, "sent once");
}

async fn twilio_refusals_and_undelivered_messages_fail(backend: Backend) {
    let twilio = TwilioStandIn::start().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        twilio.configure(c);
    })
    .await;
    let (token, key) = sender(&app, "refused@example.com").await;

    // A refusal (400, error 21211) fails the message at once: no retry.
    twilio.fail_next(&[Failure::InvalidNumber]);
    let refused = send(&app, &key, &sms_to("+14155550100")).await;
    let view = wait_for_status(&app, &key, &refused, "failed").await;
    let reason = view["failure_reason"].as_str().unwrap();
    assert!(reason.contains("21211"), "{reason}");
    let failed = message_events(&app, &token, "message.failed", &refused).await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["reason"].as_str().unwrap().contains("21211"));
    assert!(message_events(&app, &token, "message.sent", &refused)
        .await
        .is_empty());

    // An outage (503) is retried, and the retry sends it.
    twilio.fail_next(&[Failure::Unavailable]);
    let retried = send(&app, &key, &sms_to("+14155550101")).await;
    let view = wait_for_status(&app, &key, &retried, "sent").await;
    let requests = twilio.requests();
    assert_eq!(
        requests.len(),
        3,
        "the refusal once, the outage and its retry"
    );
    assert_eq!(view["provider_message_id"], requests[2].sid.as_str());

    // Undelivered after being sent: failed, with Twilio's error code.
    let callback = format!("{PUBLIC_URL}/api/v1/webhooks/twilio?message_id={retried}");
    let params = status_params(&requests[2].sid, "undelivered", Some("30003"));
    let response = post_callback(&app, &callback, &params, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["data"]["status"], "failed");
    let view = message_view(&app, &key, &retried).await;
    assert_eq!(view["status"], "failed");
    assert!(view["failure_reason"].as_str().unwrap().contains("30003"));
    assert_eq!(
        message_events(&app, &token, "message.sent", &retried)
            .await
            .len(),
        1
    );
    assert_eq!(
        message_events(&app, &token, "message.failed", &retried)
            .await
            .len(),
        1
    );
    // A late "delivered" does not revive it.
    let params = status_params(&requests[2].sid, "delivered", None);
    post_callback(&app, &callback, &params, None).await;
    assert_eq!(message_view(&app, &key, &retried).await["status"], "failed");
}

/// Two instances on one database; the message's delivery job runs twice,
/// at once (the second copy while Twilio still holds the first call) and
/// again after it was sent: Twilio is called once.
async fn a_delivery_job_run_twice_sends_once(backend: Backend) {
    let twilio = TwilioStandIn::start().await;
    twilio.answer_after(Duration::from_millis(800));
    let first = TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        twilio.configure(c);
    })
    .await;
    let database = first.database_url();
    let second = TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        c.database_url = Some(database);
        twilio.configure(c);
    })
    .await;
    let (_, key) = sender(&first, "twice@example.com").await;
    let id = send(&first, &key, &sms_to("+14155550123")).await;
    // The first run is inside its call to Twilio: run the job again.
    twilio.wait_for_requests(1).await;
    enqueue_delivery(&first, &id).await;
    let view = wait_for_status(&second, &key, &id, "sent").await;
    wait_for_done_deliveries(&first, 2).await;
    // And once more, after it was sent.
    enqueue_delivery(&first, &id).await;
    wait_for_done_deliveries(&first, 3).await;

    let requests = twilio.requests();
    assert_eq!(requests.len(), 1, "Twilio was called once: {requests:?}");
    assert_eq!(view["provider_message_id"], requests[0].sid.as_str());
    assert_eq!(message_view(&first, &key, &id).await["status"], "sent");
}

/// Twilio may call back before its answer to the send arrives: the
/// callback (which names the message) moves it, the late answer only
/// fills in what is missing, and `message.sent` is written once.
async fn a_callback_that_comes_before_twilios_answer_is_kept(backend: Backend) {
    let twilio = TwilioStandIn::start().await;
    twilio.answer_after(Duration::from_millis(1500));
    let app = TestApp::spawn_with(backend, |c| {
        c.public_url = PUBLIC_URL.into();
        twilio.configure(c);
    })
    .await;
    let (token, key) = sender(&app, "early@example.com").await;
    let id = send(&app, &key, &sms_to("+14155550123")).await;
    let request = twilio.wait_for_requests(1).await[0].clone();
    let callback = request.param("StatusCallback").unwrap().to_string();
    let params = status_params(&request.sid, "delivered", None);
    let response = post_callback(&app, &callback, &params, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["data"]["status"], "delivered");
    // The answer arrives, and its job ends.
    wait_for_done_deliveries(&app, 1).await;
    let view = message_view(&app, &key, &id).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["provider"], "twilio");
    assert_eq!(view["provider_message_id"], request.sid.as_str());
    assert_eq!(
        message_events(&app, &token, "message.sent", &id)
            .await
            .len(),
        1
    );
    assert_eq!(twilio.requests().len(), 1);
}

/// Queues another `message.deliver` job for message `id`.
async fn enqueue_delivery(app: &TestApp, id: &str) {
    landlord_jobs::enqueue(
        app.db.pool(),
        landlord_jobs::NewJob::new(landlord_messages::DELIVER_JOB, json!({ "message_id": id })),
    )
    .await
    .unwrap();
}

async fn wait_for_done_deliveries(app: &TestApp, count: i64) {
    eventually(
        format_args!("{count} delivery jobs done"),
        Duration::from_secs(20),
        async || {
            let done = app
                .count(
                    "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status = 'done'",
                    &[landlord_messages::DELIVER_JOB],
                )
                .await;
            (done >= count).then_some(())
        },
    )
    .await
}

async fn development_outboxes_simulate_and_production_refuses_what_it_cannot_send(
    backend: Backend,
) {
    // Development (public_url on loopback): files, marked simulated.
    let app = TestApp::spawn(backend).await;
    let (token, key) = sender(&app, "outbox@example.com").await;
    let sms = send(&app, &key, &sms_to("+14155550123")).await;
    let view = wait_for_status(&app, &key, &sms, "simulated").await;
    assert_eq!(view["provider"], "outbox");
    let email = send(&app, &key, &email_message("someone@example.com")).await;
    let email_view = wait_for_status(&app, &key, &email, "simulated").await;
    assert_eq!(email_view["provider"], "outbox");
    for dir in ["sms", "mail"] {
        let files = std::fs::read_dir(app.data_dir().join(dir)).unwrap().count();
        assert!(files >= 1, "{dir}");
    }
    // Nothing was sent: no message.sent.
    assert!(message_events(&app, &token, "message.sent", &sms)
        .await
        .is_empty());
    assert!(message_events(&app, &token, "message.sent", &email)
        .await
        .is_empty());

    // A server others reach, without SMTP or an SMS provider: refused.
    let production = TestApp::spawn_with(backend, |c| c.public_url = PUBLIC_URL.into()).await;
    let (_, key) = sender(&production, "nothing@example.com").await;
    for (body, channel) in [
        (sms_to("+14155550123"), "sms"),
        (email_message("someone@example.com"), "email"),
    ] {
        let error =
            assert_invalid_field(production.send_message(&key, &body, None).await, "channel").await;
        assert!(
            error
                .to_string()
                .contains(&format!("{channel} is not configured")),
            "{error}"
        );
    }
    assert_eq!(
        production.count("SELECT COUNT(*) FROM messages", &[]).await,
        0
    );
}

/// Asks Twilio's `RequestValidator` for the signature of `url` and
/// `params`, and whether `check` validates.
fn twilio_library(python: &str, url: &str, params: &[(&str, &str)], check: &str) -> (String, bool) {
    const SCRIPT: &str = r#"
import json, sys
from twilio.request_validator import RequestValidator
request = json.load(sys.stdin)
validator = RequestValidator(request["token"])
params = dict(request["params"])
print(json.dumps({
    "signature": validator.compute_signature(request["url"], params),
    "valid": validator.validate(request["url"], params, request["check"]),
}))
"#;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python starts");
    let input = json!({"token": AUTH_TOKEN, "url": url, "params": params, "check": check});
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    (
        answer["signature"].as_str().unwrap().to_string(),
        answer["valid"].as_bool().unwrap(),
    )
}

/// Twilio's own library signs a callback the server accepts, and
/// validates the signature the server computes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilios_request_validator_agrees_with_the_server() {
    let test = "sms::twilios_request_validator_agrees_with_the_server";
    let Some(python) = crate::support::python::python_with("twilio.request_validator") else {
        let why = "no python with the twilio library (set TEST_PYTHON or run .ci/run once)";
        assert!(!services_required(), "{test}: required under CI: {why}");
        report_skip(test, why);
        return;
    };
    let twilio = TwilioStandIn::start().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_url = PUBLIC_URL.into();
        twilio.configure(c);
    })
    .await;
    let (_, key) = sender(&app, "validator@example.com").await;
    let id = send(&app, &key, &sms_to("+14155550123")).await;
    let sid = twilio.wait_for_requests(1).await[0].sid.clone();
    wait_for_status(&app, &key, &id, "sent").await;
    let callback = format!("{PUBLIC_URL}/api/v1/webhooks/twilio?message_id={id}");
    let params = status_params(&sid, "delivered", None);

    // The server's signature, validated by Twilio's library.
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ours = landlord_messages::twilio::signature(AUTH_TOKEN, &callback, &owned);
    let (theirs, valid) = twilio_library(&python, &callback, &params, &ours);
    assert!(
        valid,
        "RequestValidator.validate refused the server's signature"
    );
    assert_eq!(theirs, ours);

    // Twilio's library's signature, accepted by the server.
    let response = post_callback(&app, &callback, &params, Some(&theirs)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["data"]["status"], "delivered");
    // And one it refuses (another token) is refused by the server too.
    let (_, valid) = twilio_library(&python, &callback, &params, "bm9wZQ==");
    assert!(!valid);
}

/// The published document names every status a message can have
/// (`simulated` included) under its own schema, and the callback route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_message_status() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let doc = json(app.get("/openapi.json").await).await;
    let schemas = &doc["components"]["schemas"];
    // Follows `$ref`s to the schema itself.
    let resolve = |schema: &Value| {
        let mut schema = schema.clone();
        while let Some(name) = schema["$ref"]
            .as_str()
            .map(|r| r.rsplit('/').next().unwrap().to_string())
        {
            schema = schemas[name.as_str()].clone();
        }
        schema
    };
    for (path, method, status) in [
        ("/api/v1/messages/send", "post", "202"),
        ("/api/v1/messages/{id}", "get", "200"),
    ] {
        let answer = &doc["paths"][path][method]["responses"][status]["content"]
            ["application/json"]["schema"];
        let view = resolve(&resolve(answer)["properties"]["data"]);
        assert!(
            view["properties"]["provider_message_id"].is_object(),
            "{path}: {view}"
        );
        assert_eq!(
            resolve(&view["properties"]["status"])["enum"],
            json!(["queued", "sent", "delivered", "failed", "simulated"]),
            "{path}"
        );
    }
    let callback = &doc["paths"]["/api/v1/webhooks/twilio"]["post"];
    for status in ["200", "400", "503"] {
        assert!(callback["responses"][status].is_object(), "{status}");
    }
    assert!(callback["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
}
