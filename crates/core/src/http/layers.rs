//! Route layers that cost nothing on the requests they do not concern.
//!
//! A layer added with `Router::route_layer` (or `Router::layer`) wraps
//! every route, so it runs on every request. A middleware written with
//! `axum::middleware::from_fn` clones and boxes the route below it and
//! boxes its own future each time: fine for the few requests that need
//! it, a tax on all the others. [`OnlyWhenLayer`] decides from the request
//! alone, before anything is cloned, whether the middleware applies.

use std::task::{Context, Poll};

use axum::extract::Request;
use futures::future::Either;
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt};

/// Applies `layer` to the requests for which `applies` is true; the others
/// go straight to the service below.
#[derive(Clone)]
pub struct OnlyWhenLayer<P, L> {
    applies: P,
    layer: L,
}

impl<P, L> OnlyWhenLayer<P, L> {
    pub fn new(applies: P, layer: L) -> Self {
        Self { applies, layer }
    }
}

impl<S, P, L> Layer<S> for OnlyWhenLayer<P, L>
where
    P: Clone,
    L: Clone,
{
    type Service = OnlyWhen<P, S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        OnlyWhen {
            applies: self.applies.clone(),
            inner,
            layer: self.layer.clone(),
        }
    }
}

/// The service of [`OnlyWhenLayer`]. It holds the service below once and
/// wraps a clone of it in the layer only for a request the layer applies
/// to. Holding it wrapped as well would double what every clone copies:
/// axum clones a route (and so this) for each request, and a route under
/// several of these would be copied 2, 4, 8… times.
#[derive(Clone)]
pub struct OnlyWhen<P, S, L> {
    applies: P,
    inner: S,
    layer: L,
}

impl<P, S, L> Service<Request> for OnlyWhen<P, S, L>
where
    P: Fn(&Request) -> bool,
    S: Service<Request> + Clone,
    L: Layer<S>,
    L::Service: Service<Request, Response = S::Response, Error = S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, Oneshot<L::Service, Request>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The wrapped service is made per request and readied by its
        // `Oneshot`; only the plain path uses this readiness.
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if (self.applies)(&request) {
            // The readied service goes to this request; a clone stays
            // for the next (tower's usual swap).
            let clone = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, clone);
            Either::Right(self.layer.layer(ready).oneshot(request))
        } else {
            Either::Left(self.inner.call(request))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::middleware::{from_fn, Next};
    use axum::response::Response;
    use tower::ServiceExt;

    async fn mark(request: Request, next: Next) -> Response {
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .insert("x-marked", axum::http::HeaderValue::from_static("yes"));
        response
    }

    #[tokio::test]
    async fn the_middleware_runs_only_where_it_applies() {
        let answer = tower::service_fn(|_: Request| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        });
        let service = OnlyWhenLayer::new(
            |request: &Request| request.uri().path() == "/sensitive",
            from_fn(mark),
        )
        .layer(answer);
        let marked = |path: &'static str| {
            let service = service.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                let response = service.oneshot(request).await.unwrap();
                response.headers().contains_key("x-marked")
            }
        };
        assert!(marked("/sensitive").await);
        assert!(!marked("/other").await);
    }
}
