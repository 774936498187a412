//! The success envelope: `{"success": true, "data": …, "meta": {…}?}`.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Body of every successful JSON answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

/// List metadata.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Meta {
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A successful answer: a status and the data to wrap in the envelope.
#[derive(Debug)]
pub struct ApiSuccess<T> {
    status: StatusCode,
    data: T,
    meta: Option<Meta>,
}

impl<T: Serialize> ApiSuccess<T> {
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            meta: None,
        }
    }

    pub fn created(data: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            data,
            meta: None,
        }
    }

    pub fn accepted(data: T) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            data,
            meta: None,
        }
    }

    pub fn with_meta(mut self, meta: Meta) -> Self {
        self.meta = Some(meta);
        self
    }

    /// The status and the envelope this answer renders.
    pub fn into_parts(self) -> (StatusCode, Envelope<T>) {
        (
            self.status,
            Envelope {
                success: true,
                data: self.data,
                meta: self.meta,
            },
        )
    }
}

/// Room for a typical answer, so that serializing it allocates once
/// (`axum::Json` starts at 128 bytes and doubles).
const BODY_CAPACITY: usize = 512;

/// Headers most API answers end up with: the content type, the request
/// id, `Vary` and the six security headers, with room for three more (an
/// API-key route's five rate-limit headers grow the map once). Not more:
/// the map lives as long as the answer, and 10,000 answers in flight
/// would each hold the spare room.
const ANSWER_HEADERS: usize = 12;

impl<T: Serialize> IntoResponse for ApiSuccess<T> {
    fn into_response(self) -> Response {
        let (status, body) = self.into_parts();
        let mut bytes = Vec::with_capacity(BODY_CAPACITY);
        match serde_json::to_writer(&mut bytes, &body) {
            Ok(()) => {
                let mut response = Response::new(axum::body::Body::from(bytes));
                *response.status_mut() = status;
                let headers = response.headers_mut();
                // Room for every header the layers above add, so the map
                // is allocated once instead of growing (and rehashing)
                // as they arrive.
                headers.reserve(ANSWER_HEADERS);
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            Err(error) => crate::ApiError::internal(error).into_response(),
        }
    }
}
