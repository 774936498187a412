//! Extractors whose failures are [`ApiError`]s, so that bad input is answered
//! in the envelope with the field and the reason.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but a wrong content type or malformed JSON answers
/// 400 VALIDATION_ERROR, a field of the wrong shape 422 naming the field,
/// and a body over the limit 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&request) {
            return Err(ApiError::bad_request(
                "the request body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    ApiError::bad_request(format!(
                        "the request body could not be read: {rejection}"
                    ))
                }
            })?;
        parse_json(&bytes).map(Json)
    }
}

fn is_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, telling syntax errors (400) from content errors (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() {
                let field = field_name(&path, &inner);
                Err(ApiError::invalid_field(&field, strip_position(&inner)))
            } else {
                Err(ApiError::bad_request(format!(
                    "the request body is not valid JSON: {inner}"
                )))
            }
        }
    }
}

/// The field an error is about: its path, or for a missing field the name
/// serde puts in the message.
fn field_name(path: &str, error: &serde_json::Error) -> String {
    if path != "." && !path.is_empty() {
        return path.to_string();
    }
    let message = error.to_string();
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(end) = rest.find('`') {
            return rest[..end].to_string();
        }
    }
    "body".to_string()
}

fn strip_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        attempts: u32,
    }

    fn field_of(error: ApiError) -> (StatusCode, String) {
        match error {
            ApiError::Validation {
                status, details, ..
            } => (
                status,
                details
                    .map(|d| d["fields"][0]["field"].as_str().unwrap_or("").to_string())
                    .unwrap_or_default(),
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_400() {
        let (status, _) = field_of(parse_json::<Login>(b"{not json").unwrap_err());
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_missing_field_is_named() {
        let (status, field) = field_of(parse_json::<Login>(br#"{"attempts": 1}"#).unwrap_err());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field, "email");
    }

    #[test]
    fn a_wrong_type_is_named() {
        let (_, field) =
            field_of(parse_json::<Login>(br#"{"email": "a@b.c", "attempts": "x"}"#).unwrap_err());
        assert_eq!(field, "attempts");
    }
}
