//! The gateway's forwarding: what the upstream receives (the gateway's
//! headers, never the client's forged ones, no hop-by-hop headers), the
//! signature an upstream checks with the Standard Webhooks library, its
//! rotation, the 502/504/413 answers, upgraded connections and
//! server-sent events passing through, and the upstream address rules.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend_tests;
use crate::support::app::{json, TestApp};
use crate::support::gateway::{
    allow_loopback_upstreams, at_host, get_at, host_of, published_app, Received, Upstream,
};
use crate::support::Backend;

backend_tests!(
    the_upstream_gets_the_gateway_headers_and_never_the_clients,
    the_signature_verifies_over_the_documented_content_and_survives_a_rotation,
    a_private_upstream_is_refused_when_saved_and_when_connecting,
    the_console_shows_the_gateway_secret_once_and_rotates_it,
);

/// The signed content of the gateway's documentation, rebuilt from what
/// the upstream received.
fn signed_content(received: &Received, path: &str) -> String {
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    format!(
        "{}\n{}\nx-landlord-app:{}\nx-landlord-user:{}\nx-landlord-organization:{}\nx-landlord-installation:{}",
        received.method,
        path,
        header("x-landlord-app"),
        header("x-landlord-user"),
        header("x-landlord-organization"),
        header("x-landlord-installation"),
    )
}

/// Whether the request's `X-Landlord-Signature` verifies with `secret`
/// over `content`, as an upstream checks it with the `standardwebhooks`
/// library.
fn verifies(secret: &str, received: &Received, content: &str) -> bool {
    let mut headers = http::HeaderMap::new();
    for (ours, theirs) in [
        ("x-landlord-id", "webhook-id"),
        ("x-landlord-timestamp", "webhook-timestamp"),
        ("x-landlord-signature", "webhook-signature"),
    ] {
        if let Some(value) = received.headers.get(ours) {
            if let Ok(value) = http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.insert(theirs, value);
            }
        }
    }
    standardwebhooks::Webhook::new(secret)
        .expect("a whsec_ secret")
        .verify(content.as_bytes(), &headers)
        .is_ok()
}

async fn the_upstream_gets_the_gateway_headers_and_never_the_clients(backend: Backend) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    // An upstream whose answer carries hop-by-hop headers of its own.
    let upstream = Upstream::start_with(Router::new().route(
        "/private",
        get(|| async {
            Response::builder()
                .header("connection", "x-upstream-private")
                .header("x-upstream-private", "1")
                .header("proxy-authenticate", "Basic")
                .header("x-kept", "yes")
                .body(Body::from("ok"))
                .expect("a response")
        }),
    ))
    .await;
    let publisher = published_app(&app, "dev@example.com", "notes", &upstream.url()).await;

    let answer = at_host(&app, Method::POST, &host_of("notes"), "/submit?x=1&y=2")
        .header("x-landlord-user", "usr_forged")
        .header("x-landlord-organization", "org_forged")
        .header("x-landlord-signature", "v1,forged")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-host", "evil.example.com")
        .header("x-forwarded-proto", "https")
        .header("forwarded", "for=6.6.6.6")
        .header("x-request-id", "client-chosen")
        .header("connection", "keep-alive, x-hop-secret")
        .header("x-hop-secret", "do not pass")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("x-custom", "kept")
        .body("hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
    let request_id = answer
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("the gateway's request id is returned")
        .to_owned();
    assert_ne!(request_id, "client-chosen");

    let received = upstream.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(
        (&got.method, got.uri.as_str(), &got.body[..]),
        (&Method::POST, "/submit?x=1&y=2", &b"hello"[..])
    );
    let header = |name: &str| got.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(header("x-forwarded-proto"), Some("http"));
    assert_eq!(header("x-forwarded-host"), Some("notes.apps.localhost"));
    assert_eq!(header("x-request-id"), Some(request_id.as_str()));
    assert_eq!(header("x-landlord-id"), Some(request_id.as_str()));
    assert_eq!(header("x-landlord-app"), Some(publisher.client_id()));
    assert_eq!(header("host"), Some(upstream.address.to_string().as_str()));
    assert_eq!(header("x-custom"), Some("kept"));
    // Nobody is signed in: no identity, and the forged one never arrives.
    for absent in [
        "x-landlord-user",
        "x-landlord-organization",
        "x-landlord-installation",
        "forwarded",
        "x-hop-secret",
        "keep-alive",
        "te",
        "proxy-authorization",
        "transfer-encoding",
    ] {
        assert_eq!(header(absent), None, "{absent} reached the upstream");
    }
    assert_eq!(
        got.headers.get_all("x-forwarded-for").iter().count(),
        1,
        "one X-Forwarded-For, the gateway's"
    );
    let signature = header("x-landlord-signature").expect("signed");
    assert!(signature.starts_with("v1,") && !signature.contains("forged"));

    // The answer's hop-by-hop headers stay with the gateway too.
    let answer = get_at(&app, &host_of("notes"), "/private").await;
    assert_eq!(answer.status(), 200);
    let headers = answer.headers();
    assert_eq!(
        headers.get("x-kept").map(|v| v.as_bytes()),
        Some(&b"yes"[..])
    );
    assert!(headers.get("x-upstream-private").is_none());
    assert!(headers.get("proxy-authenticate").is_none());
    assert!(headers.contains_key("x-request-id"));
}

async fn the_signature_verifies_over_the_documented_content_and_survives_a_rotation(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, allow_loopback_upstreams).await;
    let upstream = Upstream::start().await;
    let publisher = published_app(&app, "dev@example.com", "notes", &upstream.url()).await;
    let first = publisher.app["gateway_secret"]
        .as_str()
        .expect("the gateway secret is shown at creation")
        .to_owned();
    assert!(first.starts_with("whsec_"));

    let answer = get_at(&app, &host_of("notes"), "/reports/2026?page=2").await;
    assert_eq!(answer.status(), 200);
    let received = upstream.received();
    let got = received.last().expect("received");
    let content = signed_content(got, "/reports/2026?page=2");
    assert!(verifies(&first, got, &content), "the documented recipe");
    // A tampered path, method or identity does not verify.
    let tampered = signed_content(got, "/admin?page=2");
    assert!(!verifies(&first, got, &tampered));
    assert!(!verifies(&first, got, &content.replacen("GET", "POST", 1)));
    assert!(!verifies(
        &first,
        got,
        &content.replace("x-landlord-user:", "x-landlord-user:usr_1")
    ));

    // Rotation: owners only (another organization's owner sees no app),
    // the new secret once, and both sign during the overlap.
    let id = publisher.client_id().to_owned();
    let path = format!("/api/v1/apps/{id}/rotate-gateway-secret");
    let stranger = crate::support::apps::publisher(
        &app,
        "stranger@example.com",
        json!({ "slug": "other-app" }),
    )
    .await;
    let refused = app.post_as(&path, &stranger.token, &json!({})).await;
    assert_eq!(refused.status(), 404);
    let rotated = app.post_as(&path, &publisher.token, &json!({})).await;
    assert_eq!(rotated.status(), 200);
    let rotated = json(rotated).await;
    let second = rotated["data"]["gateway_secret"]
        .as_str()
        .expect("the new secret")
        .to_owned();
    assert!(second.starts_with("whsec_") && second != first);
    assert!(rotated["data"]["previous_valid_until"].is_string());
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'app.gateway_secret_rotated'",
            &[]
        )
        .await,
        1
    );

    let answer = get_at(&app, &host_of("notes"), "/after").await;
    assert_eq!(answer.status(), 200);
    let received = upstream.received();
    let got = received.last().expect("received");
    let content = signed_content(got, "/after");
    assert!(verifies(&second, got, &content), "the new secret signs");
    assert!(verifies(&first, got, &content), "the old one still does");
    let signatures = got
        .headers
        .get("x-landlord-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(signatures.split(' ').count(), 2);
}

async fn a_private_upstream_is_refused_when_saved_and_when_connecting(backend: Backend) {
    // Private addresses are not allowed (the default).
    let app = TestApp::spawn(backend).await;
    let upstream = Upstream::start().await;

    // When saved: a loopback address is a 422 on upstream_url.
    let (token, _) = crate::support::accounts::signed_in(&app, "strict@example.com").await;
    let refused = app
        .post_as(
            "/api/v1/apps",
            &token,
            &json!({
                "slug": "loopy",
                "name": "Loopy",
                "client_type": "confidential",
                "redirect_uris": ["http://127.0.0.1:9/callback"],
                "scopes": ["openid"],
                "upstream_url": upstream.url(),
            }),
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(json(refused).await.to_string().contains("upstream_url"));

    // When connecting: an app saved with a public address whose upstream
    // then names a host that resolves to loopback (as one saved while
    // private addresses were allowed would), or a loopback literal.
    published_app(
        &app,
        "dev@example.com",
        "notes",
        "http://93.184.216.34:8080",
    )
    .await;
    for address in [
        format!("http://localhost:{}", upstream.address.port()),
        upstream.url(),
    ] {
        sqlx::query("UPDATE apps SET upstream_url = $1 WHERE slug = 'notes'")
            .bind(&address)
            .execute(app.db.pool())
            .await
            .expect("the upstream moved");
        sqlx::query("UPDATE app_routing_version SET version = version + 1")
            .execute(app.db.pool())
            .await
            .expect("routing changed");
        let answer = get_at(&app, &host_of("notes"), "/").await;
        assert_eq!(answer.status(), 502, "{address}");
    }
    assert!(upstream.received().is_empty(), "nothing reached it");
}

/// Gateway settings for the error tests: loopback upstreams, a 1 s total
/// timeout, a 1 KiB body limit.
fn strict_limits(settings: &mut landlord::settings::Settings) {
    allow_loopback_upstreams(settings);
    settings.apps.gateway_timeout_secs = 1;
    settings.apps.gateway_body_limit_bytes = 1024;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_slow_and_oversized_requests_get_502_504_and_413() {
    let app = TestApp::spawn_with(Backend::Sqlite, strict_limits).await;
    let upstream = Upstream::start_with(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late"
        }),
    ))
    .await;
    published_app(&app, "dev@example.com", "notes", &upstream.url()).await;

    // Too slow: 504, as a page for a browser.
    let started = Instant::now();
    let answer = at_host(&app, Method::GET, &host_of("notes"), "/slow")
        .header("accept", "text/html")
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(2900));
    assert!(answer
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html")));

    // Too large, declared: 413 before anything is sent.
    let answer = at_host(&app, Method::POST, &host_of("notes"), "/upload")
        .body(vec![b'x'; 2048])
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Too large, streamed without a length: 413 too.
    let chunks = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 512]))),
    );
    let answer = at_host(&app, Method::POST, &host_of("notes"), "/upload")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Within the limit it passes.
    let answer = at_host(&app, Method::POST, &host_of("notes"), "/upload")
        .body(vec![b'z'; 1000])
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), 200);
    assert!(upstream
        .received()
        .iter()
        .all(|r| r.body.len() <= 1024 && r.uri == "/upload"));

    // The upstream's port closed: 502, in the envelope for a program.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    published_app(
        &app,
        "gone@example.com",
        "gone",
        &format!("http://127.0.0.1:{port}"),
    )
    .await;
    let answer = get_at(&app, &host_of("gone"), "/").await;
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(json(answer).await["error"]["code"], "BAD_GATEWAY");
}

/// An upstream's upgrade handler: answers 101 and echoes every byte.
async fn upgrade_echo(mut request: Request) -> Response {
    let Some(protocol) = request.headers().get("upgrade").cloned() else {
        return Response::builder()
            .status(400)
            .body(Body::empty())
            .expect("a response");
    };
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        let mut buffer = [0u8; 1024];
        loop {
            match io.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if io.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", protocol)
        .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        .body(Body::empty())
        .expect("a response")
}

/// An upstream's event stream: three events, 500 ms apart (1.5 s in all,
/// past the 1 s timeout, which only bounds the wait for the headers).
async fn events() -> Response {
    let stream = futures::stream::unfold(0u32, |n| async move {
        if n == 3 {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("data: event {n}\n\n"))),
            n + 1,
        ))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_connections_and_event_streams_pass_through() {
    let app = TestApp::spawn_with(Backend::Sqlite, strict_limits).await;
    let upstream = Upstream::start_with(
        Router::new()
            .route("/socket", get(upgrade_echo))
            .route("/events", get(events)),
    )
    .await;
    published_app(&app, "dev@example.com", "notes", &upstream.url()).await;

    // A WebSocket handshake: 101 with the upstream's headers, then the
    // connection is the upstream's, both ways.
    let mut socket = tokio::net::TcpStream::connect(app.address)
        .await
        .expect("connect");
    socket
        .write_all(
            b"GET /socket HTTP/1.1\r\nHost: notes.apps.localhost\r\nConnection: Upgrade\r\n\
              Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("handshake sent");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut byte))
            .await
            .expect("the handshake's answer in time")
            .expect("read");
        assert_eq!(
            n,
            1,
            "the connection stayed open: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    for message in [&b"hello"[..], &b"through the gateway"[..]] {
        socket.write_all(message).await.expect("sent");
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), socket.read_exact(&mut echoed))
            .await
            .expect("echoed in time")
            .expect("read");
        assert_eq!(echoed, message);
    }
    let got = upstream.received();
    assert!(
        got.is_empty(),
        "the upgrade went to its handler, not the echo"
    );

    // Server-sent events: each arrives on its own, before the stream ends,
    // and the stream outlives the 1 s timeout.
    let started = Instant::now();
    let mut answer = get_at(&app, &host_of("notes"), "/events").await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers().get("content-type"),
        Some(&HeaderValue::from_static("text/event-stream"))
    );
    let mut arrivals = Vec::new();
    let mut text = String::new();
    while let Some(chunk) = answer.chunk().await.expect("a chunk") {
        text.push_str(&String::from_utf8_lossy(&chunk));
        arrivals.push(started.elapsed());
    }
    assert_eq!(text, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n");
    assert!(arrivals.len() >= 3, "one chunk per event: {arrivals:?}");
    assert!(
        arrivals[0] < Duration::from_millis(400),
        "the first event came at once: {arrivals:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1000));
}

async fn the_console_shows_the_gateway_secret_once_and_rotates_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = crate::console::Browser::new(&app);
    let overview = ada.sign_up("ada@gateway.test", "Acme").await;
    let apps = format!("{overview}/apps");
    let created = ada
        .submit(
            &format!("{apps}/new"),
            &apps,
            &[
                ("client_type", "public"),
                ("name", "Notes web"),
                ("slug", "notes-web"),
                ("category", "productivity"),
                ("redirect_uris", ""),
                ("scopes", "openid"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = created.location.expect("the app's page");
    let shown = ada.get(&page).await;
    assert!(
        shown.body.contains("id=\"gateway_secret\""),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("value=\"whsec_"), "{}", shown.body);
    // Once: a reload no longer shows it.
    let again = ada.get(&page).await;
    assert!(!again.body.contains("value=\"whsec_"));
    assert!(again.body.contains("Rotate gateway secret"));

    let confirm = ada.get(&format!("{page}/rotate-gateway-secret")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm
        .body
        .contains("keeps signing beside it for 24 hours"));
    let rotated = ada
        .submit(
            &format!("{page}/rotate-gateway-secret"),
            &format!("{page}/rotate-gateway-secret"),
            &[],
        )
        .await;
    assert_eq!(rotated.status, 303, "{}", rotated.body);
    let shown = ada.get(&page).await;
    assert!(
        shown.body.contains("The gateway secret is rotated"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("value=\"whsec_"), "{}", shown.body);
}
