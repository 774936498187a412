//! Assertions on the error envelope every failure answers with:
//! `{"success": false, "error": {"code", "message", "request_id", "details"?}}`.

use serde_json::Value;

use super::app::json;

/// Asserts the error envelope: status, code, a message and the request id
/// echoed from `X-Request-Id`. Returns the body for further checks.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .expect("X-Request-Id header");
    let body = json(response).await;
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["error"]["request_id"], request_id.as_str(), "{body}");
    body
}

/// Like [`assert_error`], and the message contains `words`.
pub async fn assert_error_saying(
    response: reqwest::Response,
    status: u16,
    code: &str,
    words: &str,
) -> Value {
    let body = assert_error(response, status, code).await;
    assert_message_contains(&body, words);
    body
}

/// Asserts an error body's message contains `words`.
pub fn assert_message_contains(body: &Value, words: &str) {
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(words)),
        "message should contain {words:?}: {body}"
    );
}

/// A 422 `VALIDATION_ERROR` whose first `details.fields` entry names `field`.
pub async fn assert_invalid_field(response: reqwest::Response, field: &str) -> Value {
    let body = assert_error(response, 422, "VALIDATION_ERROR").await;
    assert_eq!(
        body["error"]["details"]["fields"][0]["field"], field,
        "{body}"
    );
    body
}

/// The `Retry-After` header in seconds; fails the test when missing.
pub fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds")
}

/// A 429 `RATE_LIMITED` with a `Retry-After` of at least a second.
/// Returns the body and the `Retry-After` seconds.
pub async fn assert_rate_limited(response: reqwest::Response) -> (Value, u64) {
    let seconds = retry_after(&response);
    assert!(seconds >= 1, "Retry-After {seconds}");
    let body = assert_error(response, 429, "RATE_LIMITED").await;
    (body, seconds)
}
