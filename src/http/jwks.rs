//! `GET /jwks.json`: the public signing keys (RFC 7517 §5), current and still-published.

use super::discovery::json_bytes;
use crate::config::faults::{Effect, FaultEndpoint, Lie};
use crate::services::faults::Facts;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

pub async fn jwks(State(app): State<AppState>) -> Response {
    let keys = app.keys.current();
    let lie = app
        .faults
        .fire(FaultEndpoint::Jwks, Facts::default(), |effect| {
            *effect == Effect::Lie(Lie::JwksMissingKey)
        });
    if lie.is_none() {
        return json_bytes(keys.jwks_json.clone()).into_response();
    }
    // Issue 14: every published key but the one that signs, so that tokens do not verify.
    let others: Vec<_> = keys
        .published
        .iter()
        .filter(|jwk| jwk.kid != keys.active.kid())
        .collect();
    let document = serde_json::json!({ "keys": others });
    json_bytes(serde_json::to_vec(&document).unwrap_or_default().into()).into_response()
}
