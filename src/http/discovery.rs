//! `GET` the metadata documents (RFC 8414, OpenID Connect Discovery), served from bytes
//! serialised at start-up.

use crate::config::faults::{Effect, FaultEndpoint, Lie};
use crate::oauth::endpoints;
use crate::services::faults::Facts;
use crate::services::tokens::WRONG_ISSUER;
use crate::state::{App, AppState};
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde_json::Value;

/// The well-known routes. They sit at the root of the host, outside the issuer's path:
/// RFC 8414 §3.1 inserts the well-known string between host and path, OpenID Connect
/// Discovery §4.1 appends it to the issuer, and MCP clients probe both forms (MD-2, MD-9).
pub fn router(issuer_path: &str) -> Router<AppState> {
    let mut router = Router::new()
        .route(
            &format!("{}{issuer_path}", endpoints::OAUTH_METADATA),
            get(oauth_metadata),
        )
        .route(
            &format!("{}{issuer_path}", endpoints::OPENID_CONFIGURATION),
            get(openid_metadata),
        );
    if !issuer_path.is_empty() {
        router = router.route(
            &format!("{issuer_path}{}", endpoints::OPENID_CONFIGURATION),
            get(openid_metadata),
        );
    }
    router
}

async fn oauth_metadata(State(app): State<AppState>) -> Response {
    metadata(&app, &app.oauth_metadata)
}

async fn openid_metadata(State(app): State<AppState>) -> Response {
    metadata(&app, &app.openid_metadata)
}

/// The document, unless a fault makes it name another issuer than the one it is served for
/// (issue 14; RFC 8414 §3.3 says a client must refuse it).
fn metadata(app: &App, document: &Bytes) -> Response {
    let lie = app
        .faults
        .fire(FaultEndpoint::Metadata, Facts::default(), |effect| {
            *effect == Effect::Lie(Lie::IssuerMismatch)
        });
    if lie.is_none() {
        return json_bytes(document.clone()).into_response();
    }
    // The same bytes but for the issuer, which the documents serialise first.
    let quoted = |issuer: &str| format!("\"issuer\":{}", Value::from(issuer));
    let lying = String::from_utf8_lossy(document).replacen(
        &quoted(app.issuer.as_str()),
        &quoted(WRONG_ISSUER),
        1,
    );
    json_bytes(lying.into_bytes().into()).into_response()
}

pub(super) fn json_bytes(body: bytes::Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}
