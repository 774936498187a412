//! A local stand-in for Twilio's Messages API (`POST
//! /2010-04-01/Accounts/{AccountSid}/Messages.json`), speaking its
//! documented shapes: form-encoded `To`, `From` or `MessagingServiceSid`,
//! `Body`, `StatusCallback`; HTTP Basic authentication with the Account
//! SID and the Auth Token; 201 with the Message resource (`sid`, `status`
//! `queued`, `error_code`, `error_message`, …); errors as `{code, message,
//! more_info, status}`. And the status callbacks Twilio POSTs to a
//! message's `StatusCallback`, signed as Twilio signs them
//! (`X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the Auth Token, of
//! the URL followed by the parameters sorted by name, each name then its
//! value) — written here from Twilio's documentation, independently of
//! the server's code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use super::eventually::eventually;
use super::TestApp;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "f00dfeedf00dfeedf00dfeedf00dfeed";
/// Twilio's magic test number that always succeeds as a sender.
pub const FROM: &str = "+15005550006";

/// One request received on the Messages endpoint, in arrival order,
/// refused ones included.
#[derive(Debug, Clone)]
pub struct TwilioRequest {
    /// The `{AccountSid}` of the path.
    pub account_sid: String,
    /// The Basic credentials, decoded (`sid:token`); empty when absent.
    pub credentials: String,
    /// The form parameters, in order.
    pub params: Vec<(String, String)>,
    /// The `SM…` SID answered; empty when refused.
    pub sid: String,
}

impl TwilioRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A failure the next send answers.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 400, error 21211: the `To` number is invalid (a refusal).
    InvalidNumber,
    /// 503 (an outage: worth a retry).
    Unavailable,
}

#[derive(Default)]
struct StandInState {
    requests: Vec<TwilioRequest>,
    failures: VecDeque<Failure>,
    /// How long each send waits before answering (after being recorded).
    delay: Duration,
}

type Shared = Arc<Mutex<StandInState>>;

/// Twilio's error answer.
fn error(status: StatusCode, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        })),
    )
}

async fn create_message(
    State(state): State<Shared>,
    Path((account_sid, file)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let mut request = TwilioRequest {
        account_sid: account_sid.clone(),
        credentials,
        params,
        sid: String::new(),
    };
    let (delay, failure) = {
        let mut state = state.lock().unwrap();
        (state.delay, state.failures.pop_front())
    };
    let expected = format!("{ACCOUNT_SID}:{AUTH_TOKEN}");
    let answer = if file != "Messages.json" {
        error(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )
    } else if request.credentials != expected || account_sid != ACCOUNT_SID {
        error(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    } else if let Some(failure) = failure {
        match failure {
            Failure::InvalidNumber => error(
                StatusCode::BAD_REQUEST,
                21211,
                &format!(
                    "Invalid 'To' Phone Number: {}",
                    request.param("To").unwrap_or_default()
                ),
            ),
            Failure::Unavailable => error(
                StatusCode::SERVICE_UNAVAILABLE,
                20500,
                "Service unavailable",
            ),
        }
    } else if request.param("To").is_none_or(str::is_empty) {
        error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        )
    } else if request.param("From").is_none() && request.param("MessagingServiceSid").is_none() {
        error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        )
    } else if request.param("Body").is_none_or(str::is_empty) {
        error(StatusCode::BAD_REQUEST, 21602, "Message body is required.")
    } else {
        request.sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        let uri = format!(
            "/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{}.json",
            request.sid
        );
        (
            StatusCode::CREATED,
            Json(json!({
                "account_sid": ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": request.param("Body"),
                "date_created": "Sun, 06 Dec 2026 02:00:00 +0000",
                "date_sent": null,
                "date_updated": "Sun, 06 Dec 2026 02:00:00 +0000",
                "direction": "outbound-api",
                "error_code": null,
                "error_message": null,
                "from": request.param("From"),
                "messaging_service_sid": request.param("MessagingServiceSid"),
                "num_media": "0",
                "num_segments": "1",
                "price": null,
                "price_unit": "USD",
                "sid": request.sid,
                "status": "queued",
                "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
                "to": request.param("To"),
                "uri": uri,
            })),
        )
    };
    state.lock().unwrap().requests.push(request);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    answer
}

/// The stand-in: an HTTP server on 127.0.0.1 at a random port, stopped
/// when dropped.
pub struct TwilioStandIn {
    url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TwilioStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TwilioStandIn {
    pub async fn start() -> TwilioStandIn {
        let state: Shared = Arc::new(Mutex::new(StandInState::default()));
        let router = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/{file}",
                post(create_message),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        TwilioStandIn { url, state, task }
    }

    /// Points `config` at this stand-in, sending from [`FROM`].
    pub fn configure(&self, config: &mut landlord::settings::Settings) {
        config.sms.twilio = landlord_messages::sms_config::TwilioConfig {
            account_sid: Some(ACCOUNT_SID.into()),
            auth_token: Some(AUTH_TOKEN.into()),
            from: Some(FROM.into()),
            messaging_service_sid: None,
            api_base: self.url.clone(),
        };
    }

    /// The next sends answer these failures, in order.
    pub fn fail_next(&self, failures: &[Failure]) {
        self.state.lock().unwrap().failures.extend(failures);
    }

    /// Each send waits this long before answering.
    pub fn answer_after(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn requests(&self) -> Vec<TwilioRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Waits (up to 20 s) for `count` requests; returns all of them.
    pub async fn wait_for_requests(&self, count: usize) -> Vec<TwilioRequest> {
        eventually(
            format!("{count} Twilio request(s)"),
            Duration::from_secs(20),
            async || {
                let requests = self.requests();
                (requests.len() >= count).then_some(requests)
            },
        )
        .await
    }
}

/// Twilio's signature of a POST to `url` with `params`, per its
/// documentation: the URL, then each parameter's name and value, sorted
/// by name; HMAC-SHA1 with the Auth Token; base64.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The parameters of Twilio's status callback for message `sid` reaching
/// `status` (with `ErrorCode` when given).
pub fn status_params<'a>(
    sid: &'a str,
    status: &'a str,
    error_code: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("From", FROM),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("To", "+14155550123"),
    ];
    if let Some(code) = error_code {
        params.push(("ErrorCode", code));
    }
    params
}

/// POSTs a status callback to `callback` (the message's `StatusCallback`,
/// a URL under the app's `public_url`) on `app`, signed with `signature`
/// (`None`: signed correctly).
pub async fn post_callback(
    app: &TestApp,
    callback: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> reqwest::Response {
    let public = app.config.public_url.trim_end_matches('/');
    let path = callback
        .strip_prefix(public)
        .unwrap_or_else(|| panic!("{callback} is not under {public}"));
    let signature = signature
        .map(String::from)
        .unwrap_or_else(|| twilio_signature(AUTH_TOKEN, callback, params));
    app.client
        .post(app.url(path))
        .header("x-twilio-signature", signature)
        .form(params)
        .send()
        .await
        .expect("request sent")
}
