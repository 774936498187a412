//! Request ids: taken from the client's `X-Request-Id` when it is sane,
//! generated otherwise, echoed on the response, recorded on the request's
//! tracing span (so every log line of the request carries it) and kept in a
//! task-local so that error envelopes can quote it without plumbing.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use std::future::Future;

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep; longer ones are replaced.
const MAX_LEN: usize = 128;

tokio::task_local! {
    /// Kept as the header value: read back as text only for error envelopes.
    static REQUEST_ID: HeaderValue;
}

/// The id of the request being served by the current task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

fn acceptable(value: &HeaderValue) -> bool {
    let text = value.as_bytes();
    !text.is_empty()
        && text.len() <= MAX_LEN
        && text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new id: a UUIDv7 (time-ordered), formatted without a `String`.
fn generate() -> HeaderValue {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut text);
    // A UUID's hyphenated form is always a valid header value.
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The request's id: the client's when it is sane (left in place),
/// otherwise a new one, set on the request for what reads it from there.
pub fn assign(request: &mut Request) -> HeaderValue {
    match request.headers().get(&REQUEST_ID_HEADER) {
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let generated = generate();
            request
                .headers_mut()
                .insert(REQUEST_ID_HEADER.clone(), generated.clone());
            generated
        }
    }
}

/// Runs `future` (the rest of the request) with `id` as the current
/// request id.
pub fn scope<F: Future>(id: HeaderValue, future: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, future)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_x.y:z")));
        assert!(!acceptable(&HeaderValue::from_static("has space")));
        assert!(!acceptable(
            &HeaderValue::from_str(&"a".repeat(129)).unwrap()
        ));
        assert!(!acceptable(&HeaderValue::from_static("")));
    }
}
