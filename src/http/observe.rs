//! What every request leaves behind: one log line at `info` (method, matched route, status,
//! latency) and, for the OAuth endpoints, its event in the event log, with the events of
//! the steps it took. Never the query string or the body: queries carry `state`, codes and
//! challenges, bodies carry secrets and tokens. Everything logged while handling a request
//! sits in its span.

use super::faults;
use crate::config::faults::FaultEndpoint;
use crate::oauth::endpoints;
use crate::oauth::event::EventType;
use crate::oauth::hints;
use crate::services::events::scope::RequestScope;
use crate::services::throttle;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use std::time::Instant;
use tracing::Instrument;

pub async fn observe(State(app): State<AppState>, request: Request, next: Next) -> Response {
    // The services that limit by address (metadata-document fetches) read it from here.
    let requester = super::client_ip(&request);
    throttle::as_requested_by(requester, observed(app, request, next)).await
}

async fn observed(app: AppState, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let route = matched.as_deref().unwrap_or("unmatched").to_owned();
    let span = tracing::info_span!("request", %method, route);
    let started = Instant::now();
    let recorded = match &method {
        &Method::OPTIONS => None,
        _ => recorded_as(
            app.issuer.path(),
            &method,
            matched.as_deref(),
            request.uri().path(),
        ),
    };
    // Faults act inside the request's span and event scope (issue 14).
    let faulted = recorded.and_then(|(kind, _)| faults::endpoint_of(kind));
    let response = match recorded.filter(|_| app.events.is_on()) {
        None => {
            arrive_then_run(&app, faulted, request, next)
                .instrument(span.clone())
                .await
        }
        Some((kind, endpoint)) => {
            let mut details = request_details(&request, &method);
            let mut misdirected = None;
            if kind == EventType::UnknownPath {
                let path = request.uri().path();
                details.push(("path", Value::from(truncated(path))));
                misdirected = hints::misdirected_path(path, app.issuer.as_str(), app.issuer.path());
            }
            let console_events = app.console.as_ref().map(|c| c.event_url(""));
            let scope = RequestScope::new(app.events.clone(), console_events, kind, endpoint);
            if let Some(misdirected) = misdirected {
                scope.explain(misdirected.rule, Some(misdirected.hint));
            }
            let response = scope
                .clone()
                .run(arrive_then_run(&app, faulted, request, next).instrument(span.clone()))
                .await;
            details.push(("status", Value::from(response.status().as_u16())));
            scope.finish(response.status().as_u16(), details);
            response
        }
    };
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

/// Tries the faults on arrival (issue 14), then handles the request.
async fn arrive_then_run(
    app: &AppState,
    endpoint: Option<FaultEndpoint>,
    request: Request,
    next: Next,
) -> Response {
    match faults::arrive(app, endpoint, request).await {
        Ok(request) => next.run(request).await,
        Err(response) => response,
    }
}

/// What every recorded request says about its caller.
fn request_details(request: &Request, method: &Method) -> Vec<(&'static str, Value)> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Value::from(truncated(v)))
    };
    let mut details = vec![("method", Value::from(method.as_str()))];
    details.extend(
        [
            ("user_agent", header(header::USER_AGENT.as_str())),
            ("origin", header(header::ORIGIN.as_str())),
            ("mcp_protocol_version", header("mcp-protocol-version")),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value))),
    );
    details
}

/// Headers are client input: kept to a readable length in the log.
fn truncated(value: &str) -> String {
    value.chars().take(300).collect()
}

/// The event a request is recorded as, and its endpoint by the metadata's name; `None` for
/// requests that are no step of a flow (health checks, the console itself, preflights).
fn recorded_as(
    issuer_path: &str,
    method: &Method,
    matched: Option<&str>,
    path: &str,
) -> Option<(EventType, Option<&'static str>)> {
    let Some(route) = matched else {
        // Requests to no endpoint are recorded where a client most likely got a URL wrong:
        // a well-known document, or an endpoint under the wrong path.
        let last = path.rsplit('/').next().unwrap_or_default();
        let misdirected = path.contains("/.well-known/")
            || [
                "authorize",
                "token",
                "register",
                "revoke",
                "introspect",
                "jwks.json",
            ]
            .contains(&last);
        return misdirected.then_some((EventType::UnknownPath, None));
    };
    if route.starts_with("/.well-known/") || route.ends_with("/.well-known/openid-configuration") {
        return Some((EventType::MetadataFetch, Some("metadata")));
    }
    let endpoint = route.strip_prefix(issuer_path).unwrap_or(route);
    Some(match (endpoint, method) {
        (endpoints::JWKS, _) => (EventType::JwksFetch, Some("jwks")),
        (endpoints::REGISTER, _) => (EventType::Registration, Some("registration")),
        (endpoints::CLIENT_CONFIGURATION, &Method::PUT) => {
            (EventType::ClientUpdate, Some("client_configuration"))
        }
        (endpoints::CLIENT_CONFIGURATION, &Method::DELETE) => {
            (EventType::ClientDelete, Some("client_configuration"))
        }
        (endpoints::CLIENT_CONFIGURATION, _) => {
            (EventType::ClientRead, Some("client_configuration"))
        }
        (endpoints::AUTHORIZE, &Method::POST) => {
            (EventType::ConsentDecision, Some("authorization"))
        }
        (endpoints::AUTHORIZE, _) => (EventType::AuthorizationRequest, Some("authorization")),
        (endpoints::TOKEN, _) => (EventType::TokenRequest, Some("token")),
        (endpoints::REVOKE, _) => (EventType::Revocation, Some("revocation")),
        (endpoints::INTROSPECT, _) => (EventType::Introspection, Some("introspection")),
        (endpoints::DEVICE_AUTHORIZATION, _) => {
            (EventType::DeviceAuthorization, Some("device_authorization"))
        }
        (endpoints::DEVICE, &Method::POST) => (EventType::DeviceDecision, Some("device")),
        (endpoints::DEVICE, _) => (EventType::DeviceVerification, Some("device")),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_recorded_by_endpoint() {
        let at = |method: Method, matched: Option<&str>, path: &str| {
            recorded_as("/t1", &method, matched, path).map(|(kind, _)| kind.as_str())
        };
        assert_eq!(
            at(Method::POST, Some("/t1/token"), "/t1/token"),
            Some("token.request")
        );
        assert_eq!(
            at(Method::POST, Some("/t1/authorize"), "/t1/authorize"),
            Some("consent.decision")
        );
        assert_eq!(
            at(
                Method::GET,
                Some("/.well-known/oauth-authorization-server/t1"),
                ""
            ),
            Some("metadata.fetch")
        );
        assert_eq!(at(Method::GET, Some("/healthz"), "/healthz"), None);
        assert_eq!(at(Method::GET, None, "/favicon.ico"), None);
        assert_eq!(
            at(Method::GET, None, "/.well-known/oauth-protected-resource"),
            Some("request.unknown_path")
        );
        assert_eq!(
            at(Method::POST, None, "/oauth/token"),
            Some("request.unknown_path")
        );
    }
}
