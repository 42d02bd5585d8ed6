//! One log line per request at `info`: method, matched route, status and latency. Never the
//! query string or the body: queries carry `state`, codes and challenges, bodies carry
//! secrets and tokens. Everything logged while handling a request sits in its span.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", %method, route);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = format_args!("{:.3}", latency.as_secs_f64() * 1000.0),
            "response"
        )
    });
    response
}
