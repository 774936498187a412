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
use tower::{Layer, Service};

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
    S: Clone,
    P: Clone,
    L: Layer<S>,
{
    type Service = OnlyWhen<P, S, L::Service>;

    fn layer(&self, inner: S) -> Self::Service {
        OnlyWhen {
            applies: self.applies.clone(),
            plain: inner.clone(),
            wrapped: self.layer.layer(inner),
        }
    }
}

/// The service of [`OnlyWhenLayer`].
#[derive(Clone)]
pub struct OnlyWhen<P, S, W> {
    applies: P,
    plain: S,
    wrapped: W,
}

impl<P, S, W> Service<Request> for OnlyWhen<P, S, W>
where
    P: Fn(&Request) -> bool,
    S: Service<Request>,
    W: Service<Request, Response = S::Response, Error = S::Error>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, W::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Which one the next request needs is not known yet: both.
        match self.plain.poll_ready(cx)? {
            Poll::Ready(()) => self.wrapped.poll_ready(cx),
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if (self.applies)(&request) {
            Either::Right(self.wrapped.call(request))
        } else {
            Either::Left(self.plain.call(request))
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
