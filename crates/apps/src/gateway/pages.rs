//! The gateway's own answers — no such app, a suspended app, a host no
//! one serves, an upstream down or too slow — as a page for browsers and
//! in the API's error envelope for programs.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::hosts::AppRoute;

/// Whether the client asked for a page.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// An answer of the gateway itself: `status`, a machine `code`, a title
/// and a sentence for people.
pub fn answer(
    headers: &HeaderMap,
    status: StatusCode,
    code: &str,
    title: &str,
    message: &str,
) -> Response {
    let mut response = if wants_html(headers) {
        (status, Html(page(status, title, message))).into_response()
    } else {
        let body = serde_json::json!({
            "success": false,
            "error": { "code": code, "message": message },
        });
        (status, axum::Json(body)).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

fn page(status: StatusCode, title: &str, message: &str) -> String {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><main><p>{code}</p><h1>{title}</h1><p>{message}</p>\
         </main></body></html>",
        code = status.as_u16(),
        title = escape(title),
        message = escape(message),
    )
}

/// 404: under the apps domain, but no published app has that name.
pub fn no_such_app(headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "No app here",
        "No published app answers at this address.",
    )
}

/// 421: a host that is neither the platform's nor an app's.
pub fn misdirected(headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::MISDIRECTED_REQUEST,
        "MISDIRECTED_REQUEST",
        "Unknown host",
        "This server does not serve this host name.",
    )
}

/// 503: the routing could not be looked up.
pub fn unavailable(headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        "Try again shortly",
        "This app cannot be reached right now; try again in a moment.",
    )
}

/// 403: the app was suspended by the platform's operators.
pub fn suspended(route: &AppRoute, headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "This app is suspended",
        &format!(
            "{} has been suspended by the platform's operators and cannot be used for now.",
            route.name
        ),
    )
}

/// 502: the upstream refused, reset or is not set.
pub fn bad_gateway(headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::BAD_GATEWAY,
        "BAD_GATEWAY",
        "The app is not answering",
        "The app's server could not be reached. Try again in a moment.",
    )
}

/// 504: the upstream did not answer in time.
pub fn gateway_timeout(headers: &HeaderMap) -> Response {
    answer(
        headers,
        StatusCode::GATEWAY_TIMEOUT,
        "GATEWAY_TIMEOUT",
        "The app took too long",
        "The app's server did not answer in time. Try again in a moment.",
    )
}
