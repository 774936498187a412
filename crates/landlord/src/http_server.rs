//! The accept loop: HTTP/1.1 only, one hyper connection task per TCP
//! connection, keep-alive on, graceful shutdown.
//!
//! `axum::serve` uses hyper-util's auto builder, which sniffs every
//! connection for HTTP/2: each connection's task then carries the HTTP/2
//! state beside the HTTP/1 one, and nothing here speaks HTTP/2 (clients and
//! load balancers talk HTTP/1.1 to the application; TLS and HTTP/2 end at
//! the proxy). With hyper's HTTP/1 builder alone an idle keep-alive
//! connection costs its read and write buffers and a small task (see
//! `bash bench/run.sh connections` and ARCHITECTURE.md, "Request flow").

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::Service;

/// How long accepting pauses after an error that is not one connection's
/// (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting (the socket is closed), lets each connection finish the
/// request in hand, closes idle keep-alive connections, and returns once
/// every connection is gone.
///
/// Every request carries `ConnectInfo<SocketAddr>`, the peer's address, as
/// `axum::serve` with `into_make_service_with_connect_info` did (the client
/// address of limits and `/metrics`' loopback rule).
pub async fn serve<F>(listener: TcpListener, router: Router, shutdown: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    // Every connection's task holds a receiver: a message asks it to
    // finish gracefully, and the last one gone ends the wait below.
    let (stop_connections, connections) = tokio::sync::watch::channel(());
    let mut builder = http1::Builder::new();
    builder.keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = ConnectionService {
            router: router.clone(),
            peer: ConnectInfo(peer),
        };
        // With upgrades: a WebSocket to an app's host is handed to the
        // gateway once the upstream accepted it.
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = connections.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            drop(stop);
            // A client that goes away mid-request is its own business.
            if let Err(error) = ended {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(connections);
    let _ = stop_connections.send(());
    stop_connections.closed().await;
}

/// Errors that concern one connection (reset before it was accepted) are
/// skipped; others (no descriptor left) pause accepting for a moment, as
/// `axum::serve` does.
async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing");
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// One connection's service: the router (one `Arc`) and the peer address,
/// added to every request of the connection.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: ConnectInfo<SocketAddr>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        self.router.clone().call(request)
    }
}
