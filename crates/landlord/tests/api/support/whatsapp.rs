//! A local stand-in for Meta's WhatsApp Business Cloud API (the Graph API's
//! `POST /{version}/{phone_number_id}/messages`), speaking its documented
//! request, response and error shapes; and the webhook notifications Meta
//! POSTs to a business's callback URL, signed the way Meta signs them
//! (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed with
//! the app secret>`). Tests read what the stand-in received and steer it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::eventually::eventually;

/// The business's display number that the webhook builders put in
/// `metadata.display_phone_number` (the example value of Meta's reference).
pub const DISPLAY_PHONE_NUMBER: &str = "15550783881";

/// One request the stand-in received on `POST /{version}/{phone_number_id}/messages`,
/// in arrival order, refused ones included.
#[derive(Debug, Clone)]
pub struct SentMessage {
    /// The `{phone_number_id}` path segment.
    pub phone_number_id: String,
    /// The whole `Authorization` header (`Bearer …`); empty when absent.
    pub authorization: String,
    /// The request body as JSON (a JSON string holding the raw text when
    /// the body was not JSON).
    pub body: Value,
    /// The `wamid.…` id answered in `messages[0].id`; empty when the
    /// stand-in answered an error instead.
    pub wamid: String,
}

#[derive(Default)]
struct StandInState {
    sent: Vec<SentMessage>,
    /// Statuses the next sends answer, in order (see `fail_next`).
    failures: VecDeque<u16>,
    /// How long `GET /{version}/{phone_number_id}` waits before answering
    /// (see `slow_numbers`).
    number_delay_ms: u64,
    /// When set, `GET /{version}/{phone_number_id}` answers 500 (see
    /// `fail_numbers`).
    numbers_fail: bool,
}

type Shared = Arc<Mutex<StandInState>>;

/// A local stand-in for Meta's Graph API: an HTTP server on 127.0.0.1 at a
/// random port, stopped when dropped.
pub struct WhatsAppStandIn {
    url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WhatsAppStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Graph API error answer, in the documented shape of Cloud API errors:
/// `{"error": {"message", "type", "code", "error_data": {"messaging_product",
/// "details"}, "fbtrace_id"}}` (`error_data` only when `details` is given;
/// OAuth errors have none).
fn graph_error(
    status: StatusCode,
    message: &str,
    code: i64,
    details: Option<&str>,
) -> (StatusCode, Json<Value>) {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AStandInTraceId",
    });
    if let Some(details) = details {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
    }
    (status, Json(json!({ "error": error })))
}

/// Meta's answer to a request with no usable access token.
fn unauthorized() -> (StatusCode, Json<Value>) {
    graph_error(
        StatusCode::UNAUTHORIZED,
        "Invalid OAuth access token - Cannot parse access token",
        190,
        None,
    )
}

/// Meta's answer to an invalid send: code 100, whose title is always
/// "Invalid parameter" (v16.0+), the particulars in `details`.
fn invalid_parameter(details: &str) -> (StatusCode, Json<Value>) {
    graph_error(
        StatusCode::BAD_REQUEST,
        "(#100) Invalid parameter",
        100,
        Some(details),
    )
}

/// The answer `fail_next(status)` asks for, with a Cloud API error code
/// that fits that HTTP status (from Meta's error-code reference).
fn failure(status: u16) -> (StatusCode, Json<Value>) {
    let http = StatusCode::from_u16(status).expect("a valid HTTP status");
    match status {
        401 => graph_error(
            http,
            "Error validating access token: Session has expired",
            190,
            None,
        ),
        403 => graph_error(
            http,
            "(#10) Application does not have permission for this action",
            10,
            Some("Permission is either not granted or has been removed."),
        ),
        429 => graph_error(
            http,
            "(#130429) Rate limit hit",
            130429,
            Some("Cloud API message throughput has been reached."),
        ),
        503 => graph_error(
            http,
            "(#131016) Service unavailable",
            131016,
            Some("A service is temporarily unavailable."),
        ),
        500..=599 => graph_error(
            http,
            "(#131000) Something went wrong",
            131000,
            Some("Message failed to send due to an unknown error."),
        ),
        _ => graph_error(
            http,
            "(#100) Invalid parameter",
            100,
            Some("The stand-in was told to fail this send."),
        ),
    }
}

/// The token of an `Authorization: Bearer <token>` header; empty when
/// there is none.
fn bearer_token(authorization: &str) -> &str {
    authorization
        .strip_prefix("Bearer ")
        .map(str::trim)
        .unwrap_or_default()
}

/// `v` then digits, a dot, digits: a Graph API version segment (`v21.0`).
fn is_graph_version(segment: &str) -> bool {
    let Some((major, minor)) = segment.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    [major, minor]
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// Why a send body is refused (the `details` of Meta's code 100 error), or
/// `None` when it is a documented text or template message.
fn invalid_send(body: &Value) -> Option<&'static str> {
    if body["messaging_product"] != "whatsapp" {
        return Some("The parameter messaging_product is required.");
    }
    if body["to"].as_str().is_none_or(str::is_empty) {
        return Some("The parameter to is required.");
    }
    // `type` defaults to text.
    match body["type"].as_str().unwrap_or("text") {
        "text" if body["text"]["body"].is_string() => None,
        "text" => Some("The parameter text['body'] is required."),
        "template" => {
            let template = &body["template"];
            if !template["name"].is_string() {
                Some("The parameter template['name'] is required.")
            } else if !template["language"]["code"].is_string() {
                Some("The parameter template['language']['code'] is required.")
            } else {
                match &template["components"] {
                    Value::Null | Value::Array(_) => None,
                    _ => Some("The parameter template['components'] must be an array."),
                }
            }
        }
        _ => Some("The stand-in takes only text and template messages."),
    }
}

/// An access token the stand-in refuses as expired (Meta's code 190).
pub const EXPIRED_TOKEN: &str = "EAAG-expired-token-of-the-test";
/// A phone number id the stand-in knows nothing of (Meta's code 100).
pub const UNKNOWN_PHONE_NUMBER_ID: &str = "100000000000001";
/// The name Meta verified for every number the stand-in knows.
pub const VERIFIED_NAME: &str = "Landlord Test Shop";

/// `GET /{version}/{phone_number_id}`: the number as Meta shows it, or
/// Meta's refusals — an invalid token (code 190), an id unknown to the
/// token (code 100, subcode 33, with Meta's documented wording).
async fn phone_number(
    State(state): State<Shared>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let (delay_ms, fails) = {
        let state = state.lock().unwrap();
        (state.number_delay_ms, state.numbers_fail)
    };
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = bearer_token(authorization);
    if !is_graph_version(&version) {
        graph_error(
            StatusCode::BAD_REQUEST,
            &format!("Unknown path components: /{version}"),
            2500,
            None,
        )
    } else if token.is_empty() {
        unauthorized()
    } else if token == EXPIRED_TOKEN {
        failure(401)
    } else if fails {
        failure(500)
    } else if phone_number_id == UNKNOWN_PHONE_NUMBER_ID {
        graph_error(
            StatusCode::BAD_REQUEST,
            &format!("Unsupported get request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            100,
            None,
        )
    } else {
        (
            StatusCode::OK,
            Json(json!({
                "verified_name": VERIFIED_NAME,
                "display_phone_number": format!("+{DISPLAY_PHONE_NUMBER}"),
                "id": phone_number_id,
                "quality_rating": "GREEN",
            })),
        )
    }
}

/// `POST /{version}/{phone_number_id}/messages`: checks the bearer token,
/// answers a queued failure if any, validates the body, and answers the
/// documented success `{"messaging_product", "contacts": [{"input",
/// "wa_id"}], "messages": [{"id": "wamid.…"}]}`. Records every request.
async fn send_message(
    State(state): State<Shared>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> (StatusCode, Json<Value>) {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let parsed = serde_json::from_slice::<Value>(&raw).ok();
    let body = parsed
        .clone()
        .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    let refusal = match &parsed {
        Some(body) => invalid_send(body),
        None => Some("The request body is not JSON."),
    };
    let mut state = state.lock().unwrap();
    let mut record = SentMessage {
        phone_number_id,
        authorization,
        body,
        wamid: String::new(),
    };
    let answer = if !is_graph_version(&version) {
        graph_error(
            StatusCode::BAD_REQUEST,
            &format!("Unknown path components: /{version}"),
            2500,
            None,
        )
    } else if bearer_token(&record.authorization).is_empty() {
        unauthorized()
    } else if let Some(status) = state.failures.pop_front() {
        failure(status)
    } else if let Some(details) = refusal {
        invalid_parameter(details)
    } else {
        record.wamid = format!("wamid.{}", uuid::Uuid::new_v4().simple());
        let to = record.body["to"].as_str().unwrap_or_default();
        // Meta answers the number as given and the WhatsApp id (digits only).
        let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
        (
            StatusCode::OK,
            Json(json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": record.wamid}],
            })),
        )
    };
    state.sent.push(record);
    answer
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/{version}/{phone_number_id}", get(phone_number))
        .route("/{version}/{phone_number_id}/messages", post(send_message))
        .with_state(state)
}

/// The Graph API base of a stand-in shared by the whole test process, which
/// every test server uses unless told otherwise: connecting a number asks
/// Meta about it, and tests that do not look at WhatsApp's side still
/// connect numbers. It runs on its own thread and runtime, so it outlives
/// any one test's runtime.
pub fn shared_base_url() -> String {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the shared stand-in's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a port for the shared stand-in");
                let address = listener.local_addr().expect("its address");
                sender
                    .send(format!("http://{address}"))
                    .expect("the test process waits for it");
                let state: Shared = Arc::new(Mutex::new(StandInState::default()));
                let _ = axum::serve(listener, router(state)).await;
            });
        });
        receiver.recv().expect("the shared stand-in started")
    })
    .clone()
}

impl WhatsAppStandIn {
    /// Starts the stand-in on 127.0.0.1 at a random port.
    pub async fn start() -> WhatsAppStandIn {
        let state: Shared = Arc::new(Mutex::new(StandInState::default()));
        let router = router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        WhatsAppStandIn { url, state, task }
    }

    /// The Graph API base to configure, `http://127.0.0.1:PORT` (sends go
    /// to `{base_url}/v21.0/{phone_number_id}/messages`, any `vN.N`).
    pub fn base_url(&self) -> String {
        self.url.clone()
    }

    /// A server whose Graph API is this stand-in.
    pub async fn app(&self, backend: super::Backend) -> super::TestApp {
        let base = self.base_url();
        super::TestApp::spawn_with(backend, |c| c.inbox.whatsapp_api_base = base).await
    }

    /// Every send request received so far, in arrival order, refused ones
    /// included (their `wamid` is empty).
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state.lock().unwrap().sent.clone()
    }

    /// Waits (up to 20 s) until at least `count` send requests arrived, and
    /// returns all of them.
    pub async fn wait_for_sent(&self, count: usize) -> Vec<SentMessage> {
        eventually(
            format!("{count} WhatsApp send request(s)"),
            Duration::from_secs(20),
            async || {
                let sent = self.sent();
                (sent.len() >= count).then_some(sent)
            },
        )
        .await
    }

    /// Makes the next authorized send answer `status` with Meta's error
    /// shape (401 → code 190, 403 → 10, 429 → 130429, 503 → 131016, other
    /// 5xx → 131000, anything else → 100). Calls queue up: two calls fail
    /// the next two sends.
    pub fn fail_next(&self, status: u16) {
        StatusCode::from_u16(status).expect("a valid HTTP status");
        self.state.lock().unwrap().failures.push_back(status);
    }

    /// Makes `GET /{version}/{phone_number_id}` (the credential check)
    /// wait `delay_ms` before answering.
    pub fn slow_numbers(&self, delay_ms: u64) {
        self.state.lock().unwrap().number_delay_ms = delay_ms;
    }

    /// Makes `GET /{version}/{phone_number_id}` answer 500 (Meta's code
    /// 131000) while `fail` holds.
    pub fn fail_numbers(&self, fail: bool) {
        self.state.lock().unwrap().numbers_fail = fail;
    }
}

/// The `messages` webhook Meta sends when a WhatsApp user texts the
/// business: the documented "text messages webhook" shape, `{"object":
/// "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes":
/// [{"value": {"messaging_product", "metadata", "contacts", "messages"},
/// "field": "messages"}]}]}`, the timestamp as a string of Unix seconds.
pub fn incoming_text(
    waba_id: &str,
    phone_number_id: &str,
    from_wa_id: &str,
    name: &str,
    wamid: &str,
    text: &str,
    timestamp_secs: i64,
) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": DISPLAY_PHONE_NUMBER,
                        "phone_number_id": phone_number_id,
                    },
                    "contacts": [{
                        "profile": {"name": name},
                        "wa_id": from_wa_id,
                    }],
                    "messages": [{
                        "from": from_wa_id,
                        "id": wamid,
                        "timestamp": timestamp_secs.to_string(),
                        "type": "text",
                        "text": {"body": text},
                    }],
                },
                "field": "messages",
            }],
        }],
    })
}

/// The `messages` webhook Meta sends when a message the business sent
/// changes status (`sent`, `delivered`, `read` or `failed`): the documented
/// "status messages webhook" shape, `value.statuses[]` with `id`, `status`,
/// `timestamp` (a string of Unix seconds) and `recipient_id`; a `failed`
/// one carries `errors: [{"code", "title", "message", "error_data":
/// {"details"}, "href"}]` (131026, message undeliverable). `conversation`
/// and `pricing` are left out: the reference includes them only on some
/// statuses (and drops `conversation` from v24.0).
pub fn status_update(
    waba_id: &str,
    phone_number_id: &str,
    wamid: &str,
    recipient_wa_id: &str,
    status: &str,
    timestamp_secs: i64,
) -> Value {
    assert!(
        matches!(status, "sent" | "delivered" | "read" | "failed"),
        "not a WhatsApp message status: {status}"
    );
    let mut entry = json!({
        "id": wamid,
        "status": status,
        "timestamp": timestamp_secs.to_string(),
        "recipient_id": recipient_wa_id,
    });
    if status == "failed" {
        entry["errors"] = json!([{
            "code": 131026,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }]);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": DISPLAY_PHONE_NUMBER,
                        "phone_number_id": phone_number_id,
                    },
                    "statuses": [entry],
                },
                "field": "messages",
            }],
        }],
    })
}

/// The `X-Hub-Signature-256` value Meta sends with a webhook: `sha256=`
/// then the lowercase hex HMAC-SHA256 of the exact body bytes, keyed with
/// the app secret.
pub fn signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// POSTs `payload` to a webhook `url` as Meta does: serialized once, those
/// exact bytes signed with `app_secret` in `X-Hub-Signature-256`, as
/// `application/json`.
pub async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    app_secret: &str,
    payload: &Value,
) -> reqwest::Response {
    let body = serde_json::to_vec(payload).expect("JSON serializes");
    let signature = signature(app_secret, &body);
    post_with_signature(client, url, Some(&signature), body).await
}

/// POSTs `body` to a webhook `url` as `application/json` with the given
/// `X-Hub-Signature-256` value, or none: for tests of bad or missing
/// signatures.
pub async fn post_with_signature(
    client: &reqwest::Client,
    url: &str,
    signature: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().await.expect("the webhook request is sent")
}
