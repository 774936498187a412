//! The gateway: every published app answers on its own host —
//! `{slug}.{apps domain}` or a verified custom domain — and Landlord
//! stands in front of it, as a Vercel-platforms router and an API gateway
//! would.
//!
//! A request meets [`dispatch`] before anything else of the server. Its
//! host decides ([`hosts`]): the platform's own host goes on to the
//! console and the API as ever; an app's host is served here; any other
//! host is answered 421 (which also keeps DNS-rebinding pages out of the
//! console). An app's request then passes, in order:
//!
//! 1. [`visitor`]: who is calling — a person signed in to the app, or an
//!    installation's token;
//! 2. [`limits`]: the publishing organization's plan (rate limit and
//!    quota) and the installing organization's limit for the app;
//! 3. [`proxy`]: the request streamed to the app's upstream with the
//!    identity headers set and signed ([`signature`]), the answer streamed
//!    back;
//! 4. [`limits`] again: the request metered, its latency counted.
//!
//! [`domains`] adds custom domains (proved by a TXT record, re-checked
//! daily); [`pages`] holds the answers of the gateway itself (404, 403,
//! 421, 502, 504) for browsers and for programs.

pub mod dns;
pub mod domains;
pub mod hosts;
pub mod limits;
pub mod pages;
pub mod proxy;
pub mod signature;
pub mod upstream;
pub mod visitor;

use std::sync::Arc;
use std::time::Instant;

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::Response;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::store::AppStatus;
use crate::AppsState;

/// What the gateway is built from.
pub struct GatewayDeps {
    pub apps: AppsState,
    /// The rate limiter, quota counter and usage recorder of API keys:
    /// the gateway's limits share them (and Redis, when configured).
    pub keys: landlord_keys::KeysState,
    /// Present when `redis_url` is configured: routing changes are
    /// published to every instance.
    pub redis: Option<redis::Client>,
}

/// The gateway: one `Arc`, cloned per request.
#[derive(Clone)]
pub struct Gateway(Arc<GatewayInner>);

pub struct GatewayInner {
    pub apps: AppsState,
    /// Which host is which app (cached).
    pub hosts: hosts::Hosts,
    /// The pooled client to the upstreams.
    pub proxy: proxy::Proxy,
    /// Limits and metering.
    pub limits: limits::GatewayLimits,
    /// Visitors' tokens, resolved and briefly cached.
    pub visitors: visitor::Visitors,
}

impl std::ops::Deref for Gateway {
    type Target = GatewayInner;

    fn deref(&self) -> &GatewayInner {
        &self.0
    }
}

impl Gateway {
    pub fn new(deps: GatewayDeps) -> anyhow::Result<Self> {
        let hosts = hosts::Hosts::new(&deps.apps, deps.redis.clone())?;
        let proxy = proxy::Proxy::new(&deps.apps)?;
        let limits = limits::GatewayLimits::new(&deps.apps, &deps.keys);
        Ok(Self(Arc::new(GatewayInner {
            apps: deps.apps,
            hosts,
            proxy,
            limits,
            visitors: visitor::Visitors::new(),
        })))
    }

    /// The gateway's background work until `stop`: hearing other
    /// instances' routing changes, writing traffic figures.
    pub async fn run(self, stop: CancellationToken) {
        tokio::join!(
            self.hosts.watch(&self.apps, stop.clone()),
            self.limits.run(&self.apps, stop.clone()),
            domains::Checker::run(&self.apps, stop.clone()),
        );
    }

    /// Serves one request to an app's host.
    async fn serve(&self, route: Arc<hosts::AppRoute>, mut request: Request) -> Response {
        if route.status == AppStatus::Suspended {
            return pages::suspended(&route, request.headers());
        }
        if let Some(answer) = visitor::own_routes(self, &route, &mut request).await {
            return answer;
        }
        let visitor = visitor::identify(self, &route, request.headers()).await;
        visitor::strip_own_cookie(request.headers_mut());
        let admission = match self.limits.admit(&route, &visitor).await {
            Ok(admission) => admission,
            Err(refused) => return refused.into_response(request.headers()),
        };
        let started = Instant::now();
        let response = self.proxy.forward(self, &route, &visitor, request).await;
        self.limits
            .record(&route, &visitor, response.status(), started.elapsed())
            .await;
        admission.decorate(response)
    }
}

/// The first thing a request meets, around the whole platform router
/// (once, not around each of its routes): the request's host decides
/// whether it is the platform's (on to the router, decided without a
/// lookup, nothing boxed), an app's (the gateway serves it) or no one's
/// (421).
#[derive(Clone)]
pub struct HostDispatch<P> {
    gateway: Gateway,
    platform: P,
}

impl<P> HostDispatch<P> {
    pub fn new(gateway: Gateway, platform: P) -> Self {
        Self { gateway, platform }
    }
}

impl<P> tower::Service<Request> for HostDispatch<P>
where
    P: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    P::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::Either<
        P::Future,
        futures::future::BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let host = hosts::host_of(&request);
        if self.gateway.hosts.is_platform_request(host.as_deref()) {
            return futures::future::Either::Left(self.platform.call(request));
        }
        let (gateway, platform) = (self.gateway.clone(), self.platform.clone());
        futures::future::Either::Right(Box::pin(async move {
            Ok(match gateway.hosts.destination(&gateway.apps, host).await {
                hosts::Destination::Platform => match platform.oneshot(request).await {
                    Ok(response) => response,
                },
                hosts::Destination::App(route) => gateway.serve(route, request).await,
                hosts::Destination::NoSuchApp => pages::no_such_app(request.headers()),
                hosts::Destination::Misdirected => pages::misdirected(request.headers()),
                hosts::Destination::Unavailable => pages::unavailable(request.headers()),
            })
        }))
    }
}
