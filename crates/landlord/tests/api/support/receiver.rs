//! A stand-in receiver on 127.0.0.1 for what Landlord posts out (Slack
//! messages, signed webhooks): answers every POST with 200 and a fixed
//! body, and keeps each request with its path, headers and body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::Router;

use super::eventually::eventually;

/// One request the receiver took.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    /// Whether the message carries a valid Standard Webhooks signature
    /// under `secret` (checked by the `standardwebhooks` crate).
    pub fn verifies(&self, secret: &str) -> bool {
        signature_verifies(secret, &self.headers, &self.body)
    }
}

/// Whether `body` with `headers` carries a valid Standard Webhooks
/// signature under `secret`, as the `standardwebhooks` crate checks it.
pub fn signature_verifies(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    standardwebhooks::Webhook::new(secret)
        .expect("a whsec_ secret")
        .verify(body, headers)
        .is_ok()
}

#[derive(Clone)]
struct Log {
    answer: &'static str,
    seen: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT`, without a path.
    pub base: String,
    log: Log,
}

async fn record(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> &'static str {
    log.seen.lock().expect("the receiver's log").push(Received {
        path: uri.path().to_string(),
        headers,
        body,
    });
    log.answer
}

impl Receiver {
    /// Starts a receiver whose every answer is 200 with `answer`.
    pub async fn start(answer: &'static str) -> Receiver {
        let log = Log {
            answer,
            seen: Arc::default(),
        };
        let router = Router::new().fallback(record).with_state(log.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { base, log }
    }

    /// The receiver's URL for `path` (e.g. `/hook`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request so far, in order.
    pub fn all(&self) -> Vec<Received> {
        self.log.seen.lock().expect("the receiver's log").clone()
    }

    /// The requests so far to `path`.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until `count` requests reached `path`; returns them.
    pub async fn wait_for(&self, path: &str, count: usize) -> Vec<Received> {
        eventually(
            format!("{count} request(s) to {path}"),
            Duration::from_secs(30),
            async || {
                let got = self.at(path);
                (got.len() >= count).then_some(got)
            },
        )
        .await
    }
}
