//! The developer console at `/_tollgate/` and the events API under it (issue 12): recent
//! flows, each as a timeline of its steps, a refusal's rule, expected and received values
//! and hint; the clients, users, keys and resources the server holds. On when the server
//! listens on loopback only (`console.enabled` decides otherwise); beyond loopback it asks
//! for `console.password` (HTTP Basic, any user name). The pages work without JavaScript;
//! `console.js` only refreshes them as events arrive.

mod api;
mod inventory;
mod pages;
mod view;

use crate::oauth::endpoints::CONSOLE;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tower_http::set_header::SetResponseHeaderLayer;

/// The console's routes, relative to the issuer's path.
pub fn router(app: &AppState) -> Router<AppState> {
    Router::new()
        .route(CONSOLE, get(to_index))
        .route(&format!("{CONSOLE}/"), get(pages::index))
        .route(&format!("{CONSOLE}/console.js"), get(script))
        .route(&format!("{CONSOLE}/clients"), get(inventory::clients))
        .route(&format!("{CONSOLE}/users"), get(inventory::users))
        .route(&format!("{CONSOLE}/keys"), get(inventory::keys))
        .route(&format!("{CONSOLE}/resources"), get(inventory::resources))
        .route(&format!("{CONSOLE}/events"), get(api::list))
        .route(&format!("{CONSOLE}/events/stream"), get(api::stream))
        .route(&format!("{CONSOLE}/events/{{id}}"), get(pages::event))
        .route(&format!("{CONSOLE}/flows/{{flow}}"), get(pages::flow))
        .layer(axum::middleware::from_fn_with_state(app.clone(), admit))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; \
                 connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                 base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// The live updates: one static script, served from here so that the CSP's
/// `script-src 'self'` allows it and nothing is fetched from elsewhere.
async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("console.js"),
    )
        .into_response()
}

/// `/_tollgate` without the slash: the pages' relative links need the directory form.
async fn to_index(State(app): State<AppState>) -> Response {
    let base = app.console.as_ref().map_or("", |c| c.base.as_str());
    Redirect::permanent(&format!("{base}/")).into_response()
}

/// Lets a request through when no password is configured, or when it carries the password
/// as HTTP Basic credentials (any user name).
async fn admit(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let Some(console) = &app.console else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !console.needs_password() {
        return next.run(request).await;
    }
    let password = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|text| {
            text.split_once(':')
                .map(|(_, password)| password.to_owned())
        });
    if console.admits(password.as_deref()) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, r#"Basic realm="Tollgate console", charset="UTF-8""#),
            (header::CONTENT_TYPE, "application/json"),
        ],
        r#"{"error":"unauthorized","error_description":"the console needs console.password (HTTP Basic, any user name)"}"#,
    )
        .into_response()
}
