//! The gateway's test kit: an upstream that records what reaches it, a
//! published app in front of it, and requests to an app's host (the
//! `Host` header on 127.0.0.1, as a browser on `*.apps.localhost` sends).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::Router;
use serde_json::{json, Value};

use crate::support::app::TestApp;
use crate::support::apps::{operator, publisher, Publisher};

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    /// Path and query.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A local upstream: answers every request with 200 and a JSON echo of
/// its method, path and headers, and keeps what it received.
pub struct Upstream {
    pub address: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    /// An upstream serving `router` on a free loopback port (nested under
    /// the echo: routes `router` does not have are echoed).
    pub async fn start_with(router: Router) -> Upstream {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let echo = Router::new().fallback(echo).with_state(received.clone());
        let app = router.fallback_service(echo);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the upstream");
        let address = listener.local_addr().expect("upstream address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { address, received }
    }

    /// An upstream that echoes every request.
    pub async fn start() -> Upstream {
        Upstream::start_with(Router::new()).await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What it received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn echo(
    State(received): State<Arc<Mutex<Vec<Received>>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::Json<Value> {
    let echoed: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                Value::from(value.to_str().unwrap_or_default()),
            )
        })
        .collect();
    let uri = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if let Ok(mut list) = received.lock() {
        list.push(Received {
            method: method.clone(),
            uri: uri.clone(),
            headers,
            body,
        });
    }
    axum::Json(json!({ "method": method.as_str(), "uri": uri, "headers": echoed }))
}

/// `slug`'s host under the default apps domain.
pub fn host_of(slug: &str) -> String {
    format!("{slug}.apps.localhost")
}

/// An app `slug` of a new organization (its owner `email`) with
/// `upstream_url`, submitted and published by an operator over the API.
/// The server must allow private upstreams (a loopback upstream).
pub async fn published_app(
    app: &TestApp,
    email: &str,
    slug: &str,
    upstream_url: &str,
) -> Publisher {
    let publisher = publisher(
        app,
        email,
        json!({ "slug": slug, "name": format!("App {slug}"), "upstream_url": upstream_url }),
    )
    .await;
    let id = publisher.client_id().to_owned();
    assert!(!id.is_empty(), "the app was created: {:?}", publisher.app);
    let submitted = app
        .post_as(
            &format!("/api/v1/apps/{id}/submit"),
            &publisher.token,
            &json!({}),
        )
        .await;
    assert_eq!(submitted.status(), 200, "submitted");
    let operator = operator(app, &format!("operator-{slug}@example.com")).await;
    let published = app
        .post_as(
            &format!("/api/v1/admin/apps/{id}/publish"),
            &operator,
            &json!({}),
        )
        .await;
    assert_eq!(published.status(), 200, "published");
    publisher
}

/// A request builder for `method path` on `host`, through the server's
/// loopback address.
pub fn at_host(app: &TestApp, method: Method, host: &str, path: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header(reqwest::header::HOST, host)
}

/// `GET path` on `host`.
pub async fn get_at(app: &TestApp, host: &str, path: &str) -> reqwest::Response {
    at_host(app, Method::GET, host, path)
        .send()
        .await
        .expect("request sent")
}

/// Settings for gateway tests: loopback upstreams allowed.
pub fn allow_loopback_upstreams(settings: &mut landlord::settings::Settings) {
    settings.apps.allow_private_upstreams = true;
}
