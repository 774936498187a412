//! Request ids: taken from the client's `X-Request-Id` when it is sane,
//! generated otherwise, echoed on the response, recorded on the request's
//! tracing span (so every log line of the request carries it) and kept in a
//! task-local so that error envelopes can quote it without plumbing.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

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

/// Middleware: assigns the id and runs the rest of the stack inside its scope.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let header = match request.headers().get(&REQUEST_ID_HEADER) {
        // The client's id stays where it is.
        Some(value) if acceptable(value) => value.clone(),
        _ => {
            let generated = generate();
            request
                .headers_mut()
                .insert(REQUEST_ID_HEADER.clone(), generated.clone());
            generated
        }
    };
    let mut response = REQUEST_ID.scope(header.clone(), next.run(request)).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER.clone(), header);
    response
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
