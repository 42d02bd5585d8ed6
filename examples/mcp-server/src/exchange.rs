//! Token exchange from the MCP server's side (RFC 8693 §2.1): the user's token reached this
//! server, whose audience it is; the backend API wants a token for itself. Tollgate swaps
//! one for the other when a `[[token_exchange]]` rule lets this server (a confidential
//! client) do so, and the new token says that this server acts for the user (`act`).

use rmcp::schemars;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The backend API, and this server's credentials at Tollgate.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// The API's URL: what `call_backend` GETs, and the `resource` of the exchanged token.
    pub url: String,
    /// Tollgate's token endpoint.
    pub token_url: String,
    /// This server's client at Tollgate, allowed to exchange by a `[[token_exchange]]` rule.
    pub client_id: String,
    pub client_secret: String,
}

/// What the backend answers: whom it served, and through whom (the token's `act`).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackendAnswer {
    pub message: String,
    pub sub: String,
    pub actor: String,
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Exchanges `user_token` for a token for the backend and calls the backend with it; the
/// backend's answer, or why not.
pub async fn call_backend(
    http: &reqwest::Client,
    backend: &BackendSettings,
    user_token: &str,
) -> Result<BackendAnswer, String> {
    let exchanged: Value = http
        .post(&backend.token_url)
        .basic_auth(&backend.client_id, Some(&backend.client_secret))
        .form(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", user_token),
            ("subject_token_type", ACCESS_TOKEN),
            ("resource", backend.url.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("token exchange failed: {e}"))?
        .json()
        .await
        .map_err(|e| format!("token exchange answered no JSON: {e}"))?;
    let Some(token) = exchanged["access_token"].as_str() else {
        return Err(format!(
            "Tollgate refused the exchange: {}",
            exchanged["error_description"]
        ));
    };
    let response = http
        .get(&backend.url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("the backend did not answer: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("the backend refused ({status}): {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("the backend answered no JSON: {e}"))
}
