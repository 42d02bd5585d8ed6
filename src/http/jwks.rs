//! `GET /jwks.json`: the public signing keys (RFC 7517 §5), current and still-published.

use super::discovery::json_bytes;
use crate::state::AppState;
use axum::extract::State;
use axum::response::IntoResponse;

pub async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    json_bytes(app.keys.current().jwks_json.clone())
}
