//! Serving connections (issue 20, item 2). `axum::serve` exposes none of hyper's timers, so
//! connections are served here with hyper's HTTP/1 builder: a header-read timeout (a client
//! that sends half a request line, or keeps a connection idle between requests, is cut off
//! after it), and a bound on open connections below the open-file limit, so that idle
//! connections cannot take every descriptor from the legitimate requests. Graceful shutdown
//! stops accepting, then waits for the connections' requests in flight.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What one connection may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The longest a request's head may take to arrive, counted from the first byte
    /// awaited: also how long a kept-alive connection may stay idle between requests.
    pub header_read_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

/// Accepts and serves connections until `shutdown` completes, then waits for the requests
/// in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    let mut full = false;
    loop {
        if permits.available_permits() == 0 && !full {
            full = true;
            tracing::warn!(
                limit = limits.max_connections,
                "{} connections are open, the most this server keeps \
                 (limits.max_connections): new connections wait until one closes",
                limits.max_connections
            );
        }
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        if permits.available_permits() > 0 {
            full = false;
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin (as axum::serve does).
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A timed-out or reset connection is the client's business; hyper logs it at
            // debug level.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
