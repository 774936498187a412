//! Forwarding: the request streamed to the app's upstream, the answer
//! streamed back, through one pooled client whose resolver keeps the
//! outgoing webhooks' address rules at every connection.
//!
//! On the way in, the hop-by-hop headers (RFC 9110 §7.6.1, and any the
//! `Connection` header names) and every client-sent `X-Forwarded-*`,
//! `Forwarded` and `X-Landlord-*` header are removed; the gateway then sets
//! `X-Forwarded-For/Proto/Host`, `X-Request-Id`, `X-Landlord-App` and the
//! visitor's identity headers, and signs them ([`super::signature`]). On the
//! way out the hop-by-hop headers go again, and `X-Request-Id` is added.
//!
//! The upstream has `apps.gateway_connect_timeout_ms` to accept the
//! connection and `apps.gateway_timeout_secs` to send its answer's headers
//! (504 past either); the body then streams as long as it lasts (a
//! server-sent events stream is never cut). A refused, reset or forbidden
//! upstream is a 502; a request body over `apps.gateway_body_limit_bytes` a
//! 413. An `Upgrade` request (WebSockets) is passed on, and once the
//! upstream answers 101 the two connections are joined byte for byte.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use landlord_core::http::client::{peer_ip, TrustForwardedFor};
use landlord_webhooks::address::{self, GuardedResolver};

use super::hosts::AppRoute;
use super::visitor::Visitor;
use super::Gateway;
use super::{pages, signature, upstream};
use crate::AppsState;

/// The headers of one connection, never forwarded (RFC 9110 §7.6.1, and
/// the `Proxy-Connection` some clients still send).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_LANDLORD_APP: HeaderName = HeaderName::from_static("x-landlord-app");
static X_LANDLORD_USER: HeaderName = HeaderName::from_static("x-landlord-user");
static X_LANDLORD_ORGANIZATION: HeaderName = HeaderName::from_static("x-landlord-organization");
static X_LANDLORD_INSTALLATION: HeaderName = HeaderName::from_static("x-landlord-installation");

/// The pooled client to every app's upstream.
pub struct Proxy {
    client: reqwest::Client,
    /// How far a client's `X-Forwarded-For` is believed (the server's
    /// `trust_forwarded_for` settings; the gateway runs before the layer
    /// that sets them for the API).
    forwarded: TrustForwardedFor,
    /// `X-Forwarded-Proto`: the scheme of `public_url`.
    proto: HeaderValue,
    timeout: Duration,
    body_limit: u64,
    rules: landlord_webhooks::config::WebhooksConfig,
}

impl Proxy {
    pub fn new(apps: &AppsState) -> anyhow::Result<Self> {
        let settings = apps.settings();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.gateway_connect_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private_upstreams,
            }))
            .build()
            .context("the gateway's HTTP client")?;
        let config = &apps.config;
        let forwarded = TrustForwardedFor::new(
            config.trust_forwarded_for,
            config.trusted_proxy_hops,
            config.trusted_proxy_networks().unwrap_or_default(),
        );
        let proto = if config.public_url.starts_with("https:") {
            HeaderValue::from_static("https")
        } else {
            HeaderValue::from_static("http")
        };
        Ok(Self {
            client,
            forwarded,
            proto,
            timeout: Duration::from_secs(settings.gateway_timeout_secs),
            body_limit: settings.gateway_body_limit_bytes,
            rules: upstream::rules(settings),
        })
    }

    /// Sends `request` to the app's upstream and streams its answer back.
    pub async fn forward(
        &self,
        _gateway: &Gateway,
        route: &AppRoute,
        visitor: &Visitor,
        request: Request,
    ) -> Response {
        let request_id = new_request_id();
        let mut response = self.send(route, visitor, request, &request_id).await;
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(X_REQUEST_ID.clone(), value);
        }
        response
    }

    async fn send(
        &self,
        route: &AppRoute,
        visitor: &Visitor,
        request: Request,
        request_id: &str,
    ) -> Response {
        let Some(upstream) = route.upstream.as_ref() else {
            return pages::bad_gateway(request.headers());
        };
        // An IP literal never meets the resolver: its address is judged here.
        if let Err(refusal) = address::check_target(upstream, &self.rules) {
            tracing::warn!(%refusal, app = %route.slug, "the upstream's address is refused");
            return pages::bad_gateway(request.headers());
        }
        let (mut parts, body) = request.into_parts();
        let client_headers = parts.headers.clone();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > self.body_limit) {
            return too_large(&client_headers);
        }
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .to_owned();
        let Ok(url) = upstream.join(&path) else {
            return pages::bad_gateway(&client_headers);
        };
        let signed_path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };

        // A request without framing headers has no body: none is sent (a
        // stream would be sent chunked).
        let has_body = parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING);
        let upgrade = upgrade_protocol(&parts.headers);
        let client_upgrade = upgrade
            .is_some()
            .then(|| parts.extensions.remove::<hyper::upgrade::OnUpgrade>())
            .flatten();

        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let client_ip = self.client_ip(&client_headers, &parts.extensions);
        let original_host = client_headers.get(header::HOST).cloned();
        strip_client_set(&mut headers);
        headers.remove(header::HOST);
        if let Some(protocol) = &upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
        }
        if let Some(ip) = client_ip {
            if let Ok(value) = HeaderValue::from_str(&ip.to_string()) {
                headers.insert(X_FORWARDED_FOR.clone(), value);
            }
        }
        headers.insert(X_FORWARDED_PROTO.clone(), self.proto.clone());
        if let Some(host) = original_host {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        set(&mut headers, &X_REQUEST_ID, request_id);
        // Exported traces: the app continues this request's trace.
        for (name, value) in landlord_core::telemetry::trace_headers() {
            if let (Ok(name), Ok(value)) = (
                header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        set(&mut headers, &X_LANDLORD_APP, route.app_id.as_ref());
        if let Some(user) = &visitor.user_id {
            set(&mut headers, &X_LANDLORD_USER, user.as_ref());
        }
        if let Some(organization) = &visitor.organization_id {
            set(
                &mut headers,
                &X_LANDLORD_ORGANIZATION,
                organization.as_ref(),
            );
        }
        if let Some(installation) = &visitor.installation_id {
            set(
                &mut headers,
                &X_LANDLORD_INSTALLATION,
                installation.as_ref(),
            );
        }
        signature::sign(
            &route.signing,
            request_id,
            parts.method.as_str(),
            &signed_path,
            &mut headers,
        );

        // The body, counted: past the limit the stream fails and the
        // answer is a 413.
        let over_limit = Arc::new(AtomicBool::new(false));
        let limit = self.body_limit;
        let mut seen: u64 = 0;
        let flag = over_limit.clone();
        let stream = body.into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen = seen.saturating_add(chunk.len() as u64);
            if seen > limit {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("the request body is over the limit"));
            }
            Ok(chunk)
        });
        let mut sending = self
            .client
            .request(parts.method.clone(), url)
            .headers(headers);
        if has_body && upgrade.is_none() {
            sending = sending.body(reqwest::Body::wrap_stream(stream));
        }
        let sending = sending.send();
        let answer = match tokio::time::timeout(self.timeout, sending).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                if over_limit.load(Ordering::Relaxed) {
                    return too_large(&client_headers);
                }
                tracing::warn!(error = %ErrorChain(&error), app = %route.slug, "the upstream did not answer");
                return if error.is_timeout() {
                    pages::gateway_timeout(&client_headers)
                } else {
                    pages::bad_gateway(&client_headers)
                };
            }
            Err(_) => {
                tracing::warn!(app = %route.slug, "the upstream's answer did not come in time");
                return pages::gateway_timeout(&client_headers);
            }
        };

        let status = answer.status();
        let mut answer_headers = answer.headers().clone();
        let switching = status == StatusCode::SWITCHING_PROTOCOLS;
        let upgraded_to = switching
            .then(|| answer_headers.get(header::UPGRADE).cloned())
            .flatten();
        strip_hop_by_hop(&mut answer_headers);
        let mut response = Response::new(Body::empty());
        *response.status_mut() = status;
        if switching {
            let (Some(protocol), Some(client_side)) = (upgraded_to, client_upgrade) else {
                return pages::bad_gateway(&client_headers);
            };
            answer_headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            answer_headers.insert(header::UPGRADE, protocol);
            let app = route.slug.clone();
            tokio::spawn(async move {
                join_upgraded(client_side, answer, &app).await;
            });
        } else {
            *response.body_mut() = Body::from_stream(answer.bytes_stream());
        }
        *response.headers_mut() = answer_headers;
        response
    }

    /// The client's address: the peer's, or read from `X-Forwarded-For`
    /// as the server's `trust_forwarded_for` settings say.
    fn client_ip(
        &self,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
    ) -> Option<IpAddr> {
        let peer = peer_ip(extensions);
        if !self.forwarded.enabled() {
            return peer;
        }
        let values: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        self.forwarded.resolve(peer, &values)
    }
}

/// Joins the client's upgraded connection and the upstream's, both ways,
/// until either side closes.
async fn join_upgraded(client: hyper::upgrade::OnUpgrade, answer: reqwest::Response, app: &str) {
    let (client, mut upstream) =
        match tokio::try_join!(async { client.await.map_err(|e| e.to_string()) }, async {
            answer.upgrade().await.map_err(|e| e.to_string())
        },)
        {
            Ok(both) => both,
            Err(error) => {
                tracing::warn!(%error, %app, "an upgraded connection could not be joined");
                return;
            }
        };
    let mut client = TokioIo::new(client);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%error, %app, "an upgraded connection ended");
    }
}

/// The protocol an `Upgrade` request asks for (with `Connection: upgrade`).
fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    let asks = connection_tokens(headers).any(|token| token == "upgrade");
    asks.then(|| headers.get(header::UPGRADE).cloned())
        .flatten()
}

/// The names listed in the `Connection` headers, lower case.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
}

/// Removes the hop-by-hop headers and every header `Connection` names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = connection_tokens(headers).collect();
    for name in named {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Removes what only the gateway may say: `Forwarded`, `X-Forwarded-*`,
/// `X-Landlord-*` and the client's `X-Request-Id`.
pub fn strip_client_set(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name == "forwarded"
                || name == "x-request-id"
                || name.starts_with("x-forwarded-")
                || name.starts_with("x-landlord-")
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name.clone(), value);
    }
}

/// A new request id: a UUIDv7 (time-ordered).
fn new_request_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// 413: the request body is over `apps.gateway_body_limit_bytes`.
fn too_large(headers: &HeaderMap) -> Response {
    pages::answer(
        headers,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "The request is too large",
        "The request's body is larger than this app accepts through the gateway.",
    )
}

/// An error and its causes, for the log.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_named_headers_go() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("close, X-Secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("accept"));
    }

    #[test]
    fn client_set_gateway_headers_go() {
        let mut headers = HeaderMap::new();
        for name in [
            "x-forwarded-for",
            "x-forwarded-host",
            "forwarded",
            "x-landlord-user",
            "x-request-id",
        ] {
            headers.insert(name, HeaderValue::from_static("forged"));
        }
        headers.insert("x-other", HeaderValue::from_static("kept"));
        strip_client_set(&mut headers);
        assert_eq!(headers.len(), 1);
    }
}
