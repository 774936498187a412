//! The API's error type and its envelope.
//!
//! Every failure a client can see is an [`ApiError`]; features map their own
//! errors into it. Its response is always the API's error envelope:
//! `{"success": false, "error": {"code", "message", "details"?, "request_id"}}`.
//! A 500 is logged with its cause and answered without it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::http::request_id::current_request_id;

/// Machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    QuotaExceeded,
    InvalidSignature,
    IdempotencyConflict,
    InternalError,
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationError => "VALIDATION_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::RateLimited => "RATE_LIMITED",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Self::InternalError => "INTERNAL_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }
}

/// Everything that can go wrong in a request, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input (400 when the request cannot be read, 422 when its content
    /// is wrong). `details` names the fields.
    #[error("{message}")]
    Validation {
        status: StatusCode,
        message: String,
        details: Option<Value>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{message}")]
    QuotaExceeded {
        message: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    InvalidSignature(String),
    #[error("{0}")]
    IdempotencyConflict(String),
    #[error("{message}")]
    ServiceUnavailable {
        message: String,
        details: Option<Value>,
    },
    /// 503 `SERVICE_UNAVAILABLE` with `Retry-After`: the server is at a
    /// bound it keeps on purpose (e.g. password hashing) and the request
    /// may be retried shortly.
    #[error("{message}")]
    Overloaded {
        message: String,
        retry_after_secs: u64,
    },
    /// A failure of ours. The cause is logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// 422: the request was read but a field is wrong.
    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::Validation {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {reason}"),
            details: Some(serde_json::json!({ "fields": [{ "field": field, "reason": reason }] })),
        }
    }

    /// One 422 naming every wrong field of a form, so a person sees all of
    /// them at once. An error that is not about a field is answered as it
    /// is (the first such one).
    pub fn all_fields(errors: impl IntoIterator<Item = Option<ApiError>>) -> Self {
        let mut fields = Vec::new();
        let mut messages = Vec::new();
        for error in errors.into_iter().flatten() {
            let listed = match &error {
                Self::Validation {
                    details: Some(details),
                    ..
                } => details.get("fields").and_then(Value::as_array).cloned(),
                _ => None,
            };
            match listed {
                Some(listed) => {
                    messages.push(error.to_string());
                    fields.extend(listed);
                }
                None => return error,
            }
        }
        Self::Validation {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: messages.join("; "),
            details: Some(serde_json::json!({ "fields": fields })),
        }
    }

    /// 400: the request itself could not be read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Validation {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { status, .. } => *status,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } | Self::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidSignature(_) => StatusCode::BAD_REQUEST,
            Self::IdempotencyConflict(_) => StatusCode::CONFLICT,
            Self::ServiceUnavailable { .. } | Self::Overloaded { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Validation { .. } => ErrorCode::ValidationError,
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            Self::InvalidSignature(_) => ErrorCode::InvalidSignature,
            Self::IdempotencyConflict(_) => ErrorCode::IdempotencyConflict,
            Self::ServiceUnavailable { .. } | Self::Overloaded { .. } => {
                ErrorCode::ServiceUnavailable
            }
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The error a bare status code stands for, used when a layer below the
    /// handlers (routing, body limit, timeout) answered without an envelope.
    pub fn from_status(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        match status {
            StatusCode::NOT_FOUND => Self::NotFound("no such route".into()),
            StatusCode::METHOD_NOT_ALLOWED => {
                Self::MethodNotAllowed("this route does not accept that method".into())
            }
            StatusCode::PAYLOAD_TOO_LARGE => {
                Self::PayloadTooLarge("the request body is larger than the server accepts".into())
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
                Self::ServiceUnavailable {
                    message: "the request did not complete in time".into(),
                    details: None,
                }
            }
            StatusCode::UNAUTHORIZED => Self::Unauthorized(reason),
            StatusCode::FORBIDDEN => Self::Forbidden(reason),
            StatusCode::CONFLICT => Self::Conflict(reason),
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited {
                message: reason,
                retry_after_secs: 1,
            },
            s if s.is_client_error() => Self::Validation {
                status: s,
                message: reason,
                details: None,
            },
            _ => Self::Internal(anyhow::anyhow!("unexpected status {status}")),
        }
    }

    fn public_message(&self) -> String {
        match self {
            // Internals stay in the log; the request id ties the two.
            Self::Internal(_) => "an internal error occurred".to_string(),
            other => other.to_string(),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Validation { details, .. } | Self::ServiceUnavailable { details, .. } => {
                details.clone()
            }
            _ => None,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        Self::Internal(error.into())
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(value_type = String, example = "VALIDATION_ERROR")]
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// The `X-Request-Id` of the request, to quote when asking for help.
    pub request_id: String,
}

/// Marks a response that already carries the error envelope, so the
/// envelope guard leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let envelope = ErrorEnvelope {
            success: false,
            error: ErrorBody {
                code: self.code(),
                message: self.public_message(),
                details: self.details(),
                request_id: current_request_id().unwrap_or_default(),
            },
        };
        let mut response = (status, axum::Json(envelope)).into_response();
        if let Self::RateLimited {
            retry_after_secs, ..
        }
        | Self::QuotaExceeded {
            retry_after_secs, ..
        }
        | Self::Overloaded {
            retry_after_secs, ..
        } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response.extensions_mut().insert(Enveloped);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(error: ApiError) -> (StatusCode, Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) = body_of(ApiError::internal(anyhow::anyhow!("password=hunter2"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn field_errors_name_the_field() {
        let (status, body) = body_of(ApiError::invalid_field("email", "is not an email")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert_eq!(body["error"]["details"]["fields"][0]["field"], "email");
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let response = ApiError::RateLimited {
            message: "slow down".into(),
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn bare_statuses_map_to_codes() {
        assert_eq!(
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE).code(),
            ErrorCode::PayloadTooLarge
        );
        assert_eq!(
            ApiError::from_status(StatusCode::REQUEST_TIMEOUT).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ApiError::from_status(StatusCode::NOT_FOUND).code(),
            ErrorCode::NotFound
        );
    }
}
