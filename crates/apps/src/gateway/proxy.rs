//! Forwarding: the request streamed to the app's upstream, the answer
//! streamed back, through one pooled client whose resolver keeps the
//! outgoing webhooks' address rules at every connection.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use landlord_webhooks::address::GuardedResolver;

use super::hosts::AppRoute;
use super::pages;
use super::visitor::Visitor;
use super::Gateway;
use crate::AppsState;

/// The pooled client to every app's upstream.
pub struct Proxy {
    client: reqwest::Client,
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
        Ok(Self { client })
    }

    /// Sends `request` to the app's upstream and streams its answer back.
    pub async fn forward(
        &self,
        _gateway: &Gateway,
        route: &AppRoute,
        _visitor: &Visitor,
        request: Request,
    ) -> Response {
        let Some(upstream) = route.upstream.as_ref() else {
            return pages::bad_gateway(request.headers());
        };
        let (parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let Ok(url) = upstream.join(path) else {
            return pages::bad_gateway(&parts.headers);
        };
        let mut headers = parts.headers.clone();
        headers.remove(axum::http::header::HOST);
        let sent = self
            .client
            .request(parts.method.clone(), url)
            .headers(headers)
            .body(reqwest::Body::wrap_stream(body.into_data_stream()))
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, app = %route.slug, "the upstream did not answer");
                return if error.is_timeout() {
                    pages::gateway_timeout(&parts.headers)
                } else {
                    pages::bad_gateway(&parts.headers)
                };
            }
        };
        let mut response = Response::builder().status(answer.status());
        if let Some(headers) = response.headers_mut() {
            headers.extend(
                answer
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.clone(), value.clone())),
            );
        }
        response
            .body(Body::from_stream(answer.bytes_stream()))
            .unwrap_or_else(|_| pages::bad_gateway(&parts.headers))
    }
}
