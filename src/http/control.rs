//! The control API at `{issuer}/_tollgate/api/` (issue 14), what `tollgate ctl` talks to:
//!
//! - `GET|POST /clock` (`{"advance": "10m"}`): the server's time, moved forward;
//! - `POST /revoke`, `POST /expire` (`{"client_id": ...}`, `{"user": ...}` or
//!   `{"flow": ...}`): every token of a client, a user or a flow;
//! - `POST /keys/rotate`: a new signing key now;
//! - `POST /reset`: back to the declared configuration;
//! - `GET|POST|DELETE /faults`, `DELETE /faults/{name}`: the faults in force; `POST` takes
//!   a fault in the shape of `[[faults]]` (or an array of them).
//!
//! Loopback peers may use it; others need `control.token` as a Bearer token. A request
//! from a browser page of another origin is refused whoever sends it, so that a web page
//! cannot drive the developer's local server (CSRF).

use super::client_ip;
use crate::config::{FaultSpec, duration};
use crate::oauth::endpoints::CONTROL;
use crate::secret::digest_matches;
use crate::services::control::owner_json;
use crate::services::faults::{FaultStatus, Refused};
use crate::state::AppState;
use crate::store::TokenOwner;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

/// The control API's routes, relative to the issuer's path.
pub fn router(app: &AppState) -> Router<AppState> {
    let at = |path: &str| format!("{CONTROL}{path}");
    Router::new()
        .route(&at("/clock"), get(clock).post(advance))
        .route(&at("/revoke"), post(revoke))
        .route(&at("/expire"), post(expire))
        .route(&at("/keys/rotate"), post(rotate_key))
        .route(&at("/reset"), post(reset))
        .route(
            &at("/faults"),
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route(&at("/faults/{name}"), delete(remove_fault))
        .layer(axum::middleware::from_fn_with_state(app.clone(), admit))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// A refusal of the control API: a status and an error body in the OAuth shape.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let Refusal(status, error, description) = self;
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    }
}

fn bad_request(description: impl Into<String>) -> Refusal {
    Refusal(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description.into(),
    )
}

fn internal(error: &(dyn std::error::Error + 'static)) -> Refusal {
    super::error::log_internal(error);
    Refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the operation failed on the server side; the cause is in its log".to_owned(),
    )
}

/// Loopback peers, and others with `control.token`; never a browser page of another origin.
async fn admit(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    if origin.is_some_and(|origin| origin != app.issuer.origin()) {
        return Refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the control API does not answer web pages of other origins (a page could \
             otherwise drive this server from the developer's browser)"
                .to_owned(),
        )
        .into_response();
    }
    let loopback = client_ip(&request).is_some_and(|ip| ip.to_canonical().is_loopback());
    if loopback {
        return next.run(request).await;
    }
    let Some(digest) = &app.control_token else {
        return Refusal(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the control API answers loopback peers only; set control.token to let others in \
             with it as a Bearer token"
                .to_owned(),
        )
        .into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if presented.is_some_and(|token| digest_matches(token, digest)) {
        return next.run(request).await;
    }
    let mut response = Refusal(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the control API needs control.token as a Bearer token from this address".to_owned(),
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="tollgate control""#),
    );
    response
}

/// The body as a JSON object (an empty body counts as `{}`).
fn object(body: &Bytes) -> Result<serde_json::Map<String, Value>, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(bad_request("the body must be a JSON object")),
        Err(error) => Err(bad_request(format!("the body is not JSON: {error}"))),
    }
}

async fn clock(State(app): State<AppState>) -> Json<Value> {
    Json(app.control().clock().to_json())
}

async fn advance(State(app): State<AppState>, body: Bytes) -> Result<Json<Value>, Refusal> {
    let body = object(&body)?;
    let by = match body.get("advance") {
        Some(Value::String(text)) => duration::parse(text).map_err(bad_request)?,
        Some(Value::Number(seconds)) => std::time::Duration::from_secs(
            seconds
                .as_u64()
                .ok_or_else(|| bad_request("advance must be a positive duration"))?,
        ),
        _ => {
            return Err(bad_request(
                "say how far to move the clock: {\"advance\": \"10m\"} (ms, s, m, h or d); it \
                 only moves forward",
            ));
        }
    };
    if by.is_zero() {
        return Err(bad_request("advance must be more than 0"));
    }
    Ok(Json(app.control().advance(by).to_json()))
}

/// The one owner a revoke or expire body names.
fn owner(body: &Bytes) -> Result<TokenOwner, Refusal> {
    let body = object(body)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let named = [
        text("client_id").map(TokenOwner::Client),
        text("user").map(TokenOwner::User),
        text("flow").map(TokenOwner::Flow),
    ];
    let mut named = named.into_iter().flatten();
    match (named.next(), named.next(), body.len()) {
        (Some(owner), None, 1) => Ok(owner),
        _ => Err(bad_request(
            "name whose tokens: exactly one of {\"client_id\": ...}, {\"user\": ...} or \
             {\"flow\": ...}",
        )),
    }
}

async fn revoke(State(app): State<AppState>, body: Bytes) -> Result<Json<Value>, Refusal> {
    let owner = owner(&body)?;
    let changed = app
        .control()
        .revoke(&owner)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(owner_json(&owner, changed)))
}

async fn expire(State(app): State<AppState>, body: Bytes) -> Result<Json<Value>, Refusal> {
    let owner = owner(&body)?;
    let changed = app
        .control()
        .expire(&owner)
        .await
        .map_err(|e| internal(&e))?;
    Ok(Json(owner_json(&owner, changed)))
}

async fn rotate_key(State(app): State<AppState>) -> Result<Json<Value>, Refusal> {
    let rotated = app.control().rotate_key().await.map_err(|e| internal(&e))?;
    Ok(Json(
        json!({"kid": rotated.kid, "previous_kid": rotated.previous_kid}),
    ))
}

async fn reset(State(app): State<AppState>) -> Result<Json<Value>, Refusal> {
    let control = app.control();
    let removed = control.reset().await.map_err(|e| internal(&e))?;
    Ok(Json(json!({
        "removed": {
            "clients": removed.clients,
            "grants": removed.grants,
            "access_tokens": removed.access_tokens,
            "events": removed.events,
        },
        "clock": control.clock().to_json(),
        "faults": faults_json(&control.faults()),
    })))
}

fn faults_json(faults: &[FaultStatus]) -> Vec<Value> {
    faults.iter().map(FaultStatus::to_json).collect()
}

async fn list_faults(State(app): State<AppState>) -> Json<Value> {
    Json(json!({"faults": faults_json(&app.control().faults())}))
}

/// Adds a fault, or an array of them (all or none).
async fn add_faults(State(app): State<AppState>, body: Bytes) -> Result<Response, Refusal> {
    let specs: Vec<FaultSpec> = match serde_json::from_slice(&body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(spec)
            .collect::<Result<_, Refusal>>()?,
        Ok(item @ Value::Object(_)) => vec![spec(item)?],
        Ok(_) => return Err(bad_request("send a fault as a JSON object, or an array")),
        Err(error) => return Err(bad_request(format!("the body is not JSON: {error}"))),
    };
    // All or none: every fault is checked, and its name, before any is added.
    let control = app.control();
    let mut names: Vec<String> = control
        .faults()
        .iter()
        .map(|f| f.fault.name.clone())
        .collect();
    for (i, spec) in specs.iter().enumerate() {
        let place = |text: String| match specs.len() {
            1 => text,
            _ => format!("faults[{i}]: {text}"),
        };
        let refused = |refused: Refused| {
            Refusal(
                StatusCode::BAD_REQUEST,
                "invalid_fault",
                place(refused.to_string()),
            )
        };
        if let Err(problems) = spec.check("fault") {
            return Err(refused(Refused::Invalid(problems)));
        }
        if let Some(name) = &spec.name {
            if names.contains(name) {
                return Err(refused(Refused::NameTaken(name.clone())));
            }
            names.push(name.clone());
        }
    }
    let mut added = Vec::with_capacity(specs.len());
    for spec in &specs {
        let status = control.add_fault(spec).map_err(|refused| {
            Refusal(
                StatusCode::BAD_REQUEST,
                "invalid_fault",
                refused.to_string(),
            )
        })?;
        added.push(status);
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"faults": faults_json(&added)})),
    )
        .into_response())
}

fn spec(value: Value) -> Result<FaultSpec, Refusal> {
    serde_json::from_value(value).map_err(|error| {
        Refusal(
            StatusCode::BAD_REQUEST,
            "invalid_fault",
            format!("the fault does not have the keys of [[faults]]: {error}"),
        )
    })
}

async fn clear_faults(State(app): State<AppState>) -> Json<Value> {
    Json(json!({"removed": app.control().clear_faults()}))
}

async fn remove_fault(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, Refusal> {
    if app.control().remove_fault(&name) {
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(Refusal(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no fault is called '{name}'"),
    ))
}
