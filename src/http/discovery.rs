//! `GET` the metadata documents (RFC 8414, OpenID Connect Discovery), served from bytes
//! serialised at start-up.

use crate::oauth::endpoints;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

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

async fn oauth_metadata(State(app): State<AppState>) -> impl IntoResponse {
    json_bytes(app.oauth_metadata.clone())
}

async fn openid_metadata(State(app): State<AppState>) -> impl IntoResponse {
    json_bytes(app.openid_metadata.clone())
}

pub(super) fn json_bytes(body: bytes::Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], body)
}
