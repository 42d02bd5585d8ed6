//! Injected faults at the HTTP surface (issue 14), in two steps. [`arrive`], in `observe`
//! inside the request's event scope, decides which fault fires on a request and waits out
//! its delay: with no fault in force that is one check and the request goes on. [`deliver`],
//! a layer around each endpoint inside its own layers, does what the fault says (a status
//! with an RFC error body, a dropped connection, a proxy's HTML page, a truncated body) and,
//! at the authorization endpoint, tries the faults of the authorization response (its
//! `iss`, an error instead of the code) on the redirect back to the client. The lies of the
//! other endpoints are told where their response is made (`discovery`, `jwks`,
//! `services::tokens`, `token/refresh_token`).

use super::authorize::{PageError, render_error};
use super::client_auth::basic_client_id;
use super::error::{BODY_LIMIT_BYTES, injected};
use crate::config::faults::{Effect, FaultEndpoint, Lie};
use crate::oauth::error::OAuthError;
use crate::oauth::event::EventType;
use crate::oauth::params::Params;
use crate::services::events;
use crate::services::faults::{Facts, Firing, proxy_error_page};
use crate::services::tokens::WRONG_ISSUER;
use crate::state::{App, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::time::Duration;

/// The endpoint a request's event type belongs to, as faults name it.
pub fn endpoint_of(kind: EventType) -> Option<FaultEndpoint> {
    Some(match kind {
        EventType::MetadataFetch => FaultEndpoint::Metadata,
        EventType::JwksFetch => FaultEndpoint::Jwks,
        EventType::Registration => FaultEndpoint::Register,
        EventType::AuthorizationRequest | EventType::ConsentDecision => FaultEndpoint::Authorize,
        EventType::TokenRequest => FaultEndpoint::Token,
        EventType::Revocation => FaultEndpoint::Revoke,
        EventType::Introspection => FaultEndpoint::Introspect,
        _ => return None,
    })
}

/// What `arrive` decided for a request, for `deliver`.
#[derive(Debug, Clone)]
struct Arrival {
    endpoint: FaultEndpoint,
    grant_type: Option<String>,
    client_id: Option<String>,
    firing: Option<Firing>,
}

impl Arrival {
    fn facts(&self) -> Facts<'_> {
        Facts {
            grant_type: self.grant_type.as_deref(),
            client_id: self.client_id.as_deref(),
        }
    }
}

/// In `observe`, outside every other layer (a delay must not run into the request
/// timeout): decides which fault, if any, fires on `request`, and waits out its delay. With
/// no fault in force the request goes on untouched. `Err` is the answer to a body too large
/// to read for a fault's filters.
pub async fn arrive(
    app: &App,
    endpoint: Option<FaultEndpoint>,
    request: Request,
) -> Result<Request, Response> {
    let Some(endpoint) = endpoint.filter(|_| !app.faults.is_empty()) else {
        return Ok(request);
    };
    let (mut request, grant_type, client_id) = read_facts(app, endpoint, request).await?;
    // The client and grant type the events of an injected fault are about, before the
    // handler (which may never run) says so itself.
    if let Some(client_id) = &client_id {
        events::set_client(client_id);
    }
    if let Some(grant_type) = &grant_type {
        events::detail("grant_type", grant_type.as_str());
    }
    let mut arrival = Arrival {
        endpoint,
        grant_type,
        client_id,
        firing: None,
    };
    arrival.firing = app
        .faults
        .fire(endpoint, arrival.facts(), Effect::on_arrival);
    if let Some(delay) = arrival.firing.as_ref().and_then(|f| f.fault.delay) {
        wait(app, delay).await;
    }
    request.extensions_mut().insert(arrival);
    Ok(request)
}

/// Around each endpoint, inside its own layers (so that an injected error carries the
/// endpoint's CORS and cache headers): does what the fault `arrive` chose, and at the
/// authorization endpoint tries the faults of the authorization response.
pub async fn deliver(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(arrival) = request.extensions_mut().remove::<Arrival>() else {
        return next.run(request).await;
    };
    let response = match &arrival.firing {
        None => next.run(request).await,
        Some(firing) => act(&app, arrival.endpoint, firing, request, next).await,
    };
    if arrival.endpoint == FaultEndpoint::Authorize {
        return authorization_response(&app, arrival.facts(), response);
    }
    response
}

/// The grant type and client a request names, read when a fault applies at its endpoint:
/// the client from HTTP Basic, the query or the form (on the consent form, from its
/// pending request when a fault filters on it). A body read here is handed on unchanged.
async fn read_facts(
    app: &App,
    endpoint: FaultEndpoint,
    request: Request,
) -> Result<(Request, Option<String>, Option<String>), Response> {
    let needs = app.faults.needs(endpoint);
    if !needs.any {
        return Ok((request, None, None));
    }
    let mut client_id = basic_client_id(request.headers());
    let query = Params::parse(request.uri().query().unwrap_or_default().as_bytes());
    let query_client = query.get("client_id").ok().flatten().map(str::to_owned);
    client_id = client_id.or(query_client);
    let form_endpoint = matches!(
        endpoint,
        FaultEndpoint::Token
            | FaultEndpoint::Revoke
            | FaultEndpoint::Introspect
            | FaultEndpoint::Authorize
    );
    if request.method() != Method::POST || !form_endpoint {
        return Ok((request, None, client_id));
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT_BYTES).await else {
        // What the body limit further in would have answered.
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    };
    let form = Params::parse(&bytes);
    let field = |name: &str| form.get(name).ok().flatten().map(str::to_owned);
    let grant_type = field("grant_type");
    client_id = client_id.or_else(|| field("client_id"));
    if client_id.is_none() && endpoint == FaultEndpoint::Authorize && needs.client_id {
        if let Some(id) = field("request_id") {
            client_id = match app.store.authorization_request(&id).await {
                Ok(pending) => pending.map(|p| p.client_id),
                Err(_) => None,
            };
        }
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    Ok((request, grant_type, client_id))
}

async fn act(
    app: &App,
    endpoint: FaultEndpoint,
    firing: &Firing,
    request: Request,
    next: Next,
) -> Response {
    let fault = &firing.fault;
    match &fault.effect {
        Effect::Respond {
            status,
            error,
            description,
            retry_after,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let description = description.clone().unwrap_or_else(|| {
                format!("{error} injected by Tollgate (fault '{}')", fault.name)
            });
            let error = OAuthError::new(*error, description);
            let mut response = match endpoint {
                // The authorization endpoint shows its errors to the user as a page.
                FaultEndpoint::Authorize => {
                    render_error(app, PageError::Shown { status, error }).await
                }
                _ => injected(status, &error),
            };
            retry_after_header(&mut response, *retry_after);
            response
        }
        Effect::Html {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = proxy_error_page(status.as_u16(), &fault.name);
            let mut response =
                (status, [(header::CONTENT_TYPE, "text/html")], page).into_response();
            retry_after_header(&mut response, *retry_after);
            response
        }
        Effect::Drop => dropped(),
        Effect::Truncate => truncated(next.run(request).await).await,
        _ => next.run(request).await,
    }
}

/// Waits out a delay, or until the server starts to shut down (a long delay must not hold
/// up a graceful shutdown).
async fn wait(app: &App, delay: Duration) {
    let mut closing = app.closing.subscribe();
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        _ = closing.wait_for(|closing| *closing) => {}
    }
}

fn retry_after_header(response: &mut Response, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// without writing the status line, so the client sees the connection dropped.
fn dropped() -> Response {
    let failed = futures_util::stream::iter([Err::<Bytes, std::io::Error>(std::io::Error::other(
        "injected fault: the connection is dropped",
    ))]);
    (StatusCode::BAD_GATEWAY, Body::from_stream(failed)).into_response()
}

/// The real response with the first half of its body only (and a `Content-Length` that
/// says so): a client reading it gets JSON that ends in the middle.
async fn truncated(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT_BYTES)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// The faults of the authorization response (RFC 6749 §4.1.2, RFC 9207 §2): the redirect
/// back to the client without `iss`, with another issuer's, or with an error where the
/// code would be. Only redirects count for these faults.
fn authorization_response(app: &App, facts: Facts<'_>, mut response: Response) -> Response {
    if !response.status().is_redirection() {
        return response;
    }
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok());
    let Some(mut location) = location else {
        return response;
    };
    let has_code = location.query_pairs().any(|(name, _)| name == "code");
    let firing = app
        .faults
        .fire(FaultEndpoint::Authorize, facts, |effect| match effect {
            Effect::Lie(Lie::IssMissing | Lie::IssWrong) => true,
            Effect::RedirectError { .. } => has_code,
            _ => false,
        });
    let Some(firing) = firing else {
        return response;
    };
    let mut params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    match &firing.fault.effect {
        Effect::Lie(Lie::IssMissing) => params.retain(|(name, _)| name != "iss"),
        Effect::Lie(_) => {
            for (name, value) in &mut params {
                if name == "iss" {
                    *value = WRONG_ISSUER.to_owned();
                }
            }
        }
        Effect::RedirectError { error, description } => {
            let description = description.clone().unwrap_or_else(|| {
                format!(
                    "{error} injected by Tollgate (fault '{}')",
                    firing.fault.name
                )
            });
            params.retain(|(name, _)| name != "code");
            params.insert(0, ("error".to_owned(), error.as_str().to_owned()));
            params.insert(1, ("error_description".to_owned(), description.clone()));
            // What the client received: a refusal.
            events::reject(&OAuthError::new(*error, description));
        }
        _ => {}
    }
    location.query_pairs_mut().clear().extend_pairs(params);
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
