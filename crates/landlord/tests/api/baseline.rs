//! The HTTP baseline every route shares: envelopes, limits, request ids,
//! security headers, CORS, panic recovery, timeouts.

use serde_json::json;

use crate::support::app::{assert_error, json};
use crate::support::errors::{assert_error_saying, assert_invalid_field};
use crate::support::{Backend, TestApp};

#[tokio::test]
async fn unknown_routes_answer_404_in_the_envelope() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_error(app.get("/no/such/route").await, 404, "NOT_FOUND").await;
    assert_error(app.get("/api/v1/no-such-thing").await, 404, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_wrong_method_answers_405_in_the_envelope() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert!(
        response.headers().contains_key("allow"),
        "Allow header kept"
    );
    assert_error(response, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn malformed_json_answers_400_saying_what_is_wrong() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/__test/echo"))
        .header("content-type", "application/json")
        .body("{\"message\": ")
        .send()
        .await
        .unwrap();
    assert_error_saying(response, 400, "VALIDATION_ERROR", "not valid JSON").await;
}

#[tokio::test]
async fn a_wrong_content_type_answers_400() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/__test/echo"))
        .header("content-type", "text/plain")
        .body(r#"{"message": "hi", "count": 1}"#)
        .send()
        .await
        .unwrap();
    assert_error_saying(response, 400, "VALIDATION_ERROR", "application/json").await;
}

#[tokio::test]
async fn a_missing_or_mistyped_field_is_named() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_invalid_field(
        app.post_json("/__test/echo", &json!({"count": 1})).await,
        "message",
    )
    .await;
    assert_invalid_field(
        app.post_json("/__test/echo", &json!({"message": "hi", "count": "one"}))
            .await,
        "count",
    )
    .await;
    // And the happy path goes through, enveloped.
    let response = app
        .post_json("/__test/echo", &json!({"message": "hi", "count": 2}))
        .await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(
        body,
        json!({"success": true, "data": {"message": "hi", "count": 2}})
    );
}

#[tokio::test]
async fn a_2_mib_body_answers_413_in_the_envelope() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let big = format!(
        r#"{{"message": "{}", "count": 1}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let response = app
        .client
        .post(app.url("/__test/echo"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "PAYLOAD_TOO_LARGE").await;

    // Without a Content-Length (chunked), the limit holds while reading.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
        .collect();
    let response = app
        .client
        .post(app.url("/__test/echo"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.body_limit_bytes = 64).await;
    let response = app
        .post_json(
            "/__test/echo",
            &json!({"message": "y".repeat(100), "count": 1}),
        )
        .await;
    assert_error(response, 413, "PAYLOAD_TOO_LARGE").await;
    let response = app
        .post_json("/__test/echo", &json!({"message": "short", "count": 1}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_panicking_handler_answers_500_without_internals_and_the_server_keeps_serving() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = assert_error(app.get("/__test/panic").await, 500, "INTERNAL_ERROR").await;
    let text = body.to_string();
    assert!(!text.contains("deliberate"), "panic message leaked: {text}");
    assert!(
        !text.contains("test_routes"),
        "source location leaked: {text}"
    );
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_request_over_the_timeout_answers_503_in_the_envelope() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.request_timeout_secs = 1).await;
    assert_error_saying(
        app.get("/__test/sleep?ms=3000").await,
        503,
        "SERVICE_UNAVAILABLE",
        "in time",
    )
    .await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");

    let response = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "client-chosen-43")
        .send()
        .await
        .unwrap();
    let body = assert_error(response, 404, "NOT_FOUND").await;
    assert_eq!(body["error"]["request_id"], "client-chosen-43");

    let generated = app.get("/health").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "generated id {id}");

    // Garbage is replaced, not echoed.
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
}

#[tokio::test]
async fn security_headers_are_on_every_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for path in ["/health", "/no/such/route"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-xss-protection"], "1; mode=block", "{path}");
        assert_eq!(
            headers["strict-transport-security"], "max-age=31536000",
            "{path}"
        );
        assert_eq!(
            headers["content-security-policy"], "default-src 'self'",
            "{path}"
        );
        assert_eq!(
            headers["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
    }
}

#[tokio::test]
async fn cors_follows_the_configured_allowlist() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.cors_allowed_origins = vec!["https://app.example.com".into()]
    })
    .await;
    let allowed = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/keys"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
}

/// Requests without `Origin` skip the CORS layer; they must still carry
/// what it adds to every answer — above all `Vary`, without which a cache
/// could hand a browser an answer stored for a script.
#[tokio::test]
async fn answers_without_origin_carry_the_same_cors_headers() {
    let cors_headers = |response: &reqwest::Response| {
        let mut found: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                name.as_str() == "vary" || name.as_str().starts_with("access-control-")
            })
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        found.sort();
        found
    };
    for origins in [
        vec![],
        vec!["https://app.example.com".to_string()],
        vec!["*".to_string()],
    ] {
        let any = origins.iter().any(|o| o == "*");
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.cors_allowed_origins = origins.clone()
        })
        .await;
        let plain = app.client.get(app.url("/health")).send().await.unwrap();
        let from_elsewhere = app
            .client
            .get(app.url("/health"))
            .header("origin", "https://elsewhere.example.net")
            .send()
            .await
            .unwrap();
        let headers = cors_headers(&plain);
        assert_eq!(
            headers,
            cors_headers(&from_elsewhere),
            "origins {origins:?}"
        );
        let vary = plain.headers()["vary"].to_str().unwrap();
        assert!(vary.contains("origin"), "{vary}");
        assert!(plain
            .headers()
            .contains_key("access-control-expose-headers"));
        assert_eq!(
            plain.headers().contains_key("access-control-allow-origin"),
            any,
            "origins {origins:?}: {headers:?}"
        );
        // Answers from below the handlers (the router's 404) carry it too.
        let error = app.get("/no/such/route").await;
        assert_eq!(error.status(), 404);
        assert!(error.headers().contains_key("vary"));
    }
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn an_empty_query_parameter_is_refused_naming_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let registered = app.register("empty@example.com", "Empty").await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    for (path, parameter) in [
        // An enum.
        ("/api/v1/inbox/conversations?status=", "status"),
        ("/api/v1/team/invitations?status=", "status"),
        // A number.
        ("/api/v1/webhooks/endpoints?limit=", "limit"),
        // A date and a time.
        ("/api/v1/dashboard/usage-graph?from=", "from"),
        ("/api/v1/audit-log?to=", "to"),
        // An id.
        ("/api/v1/audit-log?actor=", "actor"),
        ("/api/v1/dashboard/usage-graph?key_id=", "key_id"),
        ("/api/v1/inbox/conversations?assignee=", "assignee"),
        // Without `=`, and after a valid parameter.
        ("/api/v1/inbox/conversations?limit=10&status", "status"),
    ] {
        let response = app.get_as(path, &token).await;
        let body = assert_invalid_field(response, parameter).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("empty"),
            "{path}: {body}"
        );
    }
    // A value of the wrong shape is named too, not "query".
    assert_invalid_field(
        app.get_as("/api/v1/webhooks/endpoints?limit=many", &token)
            .await,
        "limit",
    )
    .await;
    // Left out, the same filters answer; an empty cursor is the first
    // page (documented: a paging loop starts with one).
    for path in [
        "/api/v1/inbox/conversations",
        "/api/v1/inbox/conversations?status=open&limit=10",
        "/api/v1/team/invitations",
        "/api/v1/webhooks/endpoints",
        "/api/v1/events?cursor=",
    ] {
        let response = app.get_as(path, &token).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    // The document says so: string query parameters have minLength 1,
    // except the cursor.
    let doc = json(app.get("/openapi.json").await).await;
    let parameters = doc["paths"]["/api/v1/audit-log"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let named = |name: &str| parameters.iter().find(|p| p["name"] == name).unwrap();
    assert_eq!(
        named("actor")["schema"]["minLength"],
        1,
        "{}",
        named("actor")
    );
    assert!(named("cursor")["schema"]["minLength"].is_null());
}
