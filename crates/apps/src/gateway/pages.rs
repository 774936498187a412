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
    headers.insert(header::CONTENT_SECURITY_POLICY, content_security_policy());
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The page's style: the console's error card (its colours, light and
/// dark, its type and its card), inline since the page is served on the
/// app's host, where the console's stylesheet is not.
const STYLE: &str = "\
:root{--bg:#f7f7f8;--surface:#fff;--text:#1b1d22;--muted:#5d6270;--border:#d9dbe1;\
--accent:#3451d1;--error:#b3261e;--error-bg:#fce8e6;--radius:8px;color-scheme:light dark}\
@media (prefers-color-scheme:dark){:root{--bg:#121317;--surface:#1c1e24;--text:#e7e8ec;\
--muted:#a2a6b3;--border:#343741;--accent:#8aa2ff;--error:#ff9b92;--error-bg:#3a1714}}\
*{box-sizing:border-box}\
body{margin:0;background:var(--bg);color:var(--text);\
font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}\
main{max-width:60rem;margin:0 auto;padding:1.25rem 1rem 3rem}\
.card{background:var(--surface);border:1px solid var(--border);border-radius:var(--radius);\
padding:1rem 1.25rem;margin:1.5rem auto;max-width:28rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}\
.code{display:inline-block;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;\
font-size:.85rem;font-weight:600;padding:.05rem .45rem;border-radius:4px;\
color:var(--error);background:var(--error-bg);margin:0}\
.muted{color:var(--muted);font-size:.9rem}";

/// Nothing but the inline style above (by its hash) may apply: no script,
/// no image, no frame, no form.
fn content_security_policy() -> HeaderValue {
    static POLICY: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE));
        HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    });
    POLICY.clone()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <section class=\"card\">\n<p class=\"code\">{code}</p>\n<h1>{title}</h1>\n\
         <p>{message}</p>\n</section>\n</main>\n</body>\n</html>\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn browser() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        headers
    }

    #[test]
    fn browsers_get_a_page_and_programs_the_envelope() {
        let page = no_such_app(&browser());
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert!(page.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html"));
        let envelope = misdirected(&HeaderMap::new());
        assert_eq!(envelope.status(), StatusCode::MISDIRECTED_REQUEST);
        assert_eq!(envelope.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(envelope.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn the_page_s_only_style_is_the_one_its_policy_allows() {
        let policy = content_security_policy();
        let policy = policy.to_str().unwrap_or_default();
        assert!(policy.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(!policy.contains("unsafe"));
        let html = page(StatusCode::FORBIDDEN, "t", "m");
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn what_comes_from_an_app_is_escaped() {
        let html = page(
            StatusCode::FORBIDDEN,
            "This app is suspended",
            "<script>alert('x')</script> & co",
        );
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
    }
}
