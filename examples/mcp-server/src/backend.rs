//! A small backend API that the MCP server calls on its users' behalf (`call_backend`). It
//! accepts only Tollgate's access tokens issued for itself (`aud` is its URL) and delegated
//! to the MCP server (`act.sub` is the MCP server's client id, RFC 8693 §4.1), and answers
//! with who it is serving and through whom.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct BackendApi {
    /// The API's URL: served at its path, and the `aud` its tokens must carry.
    pub url: String,
    /// Tollgate's issuer and where its keys are.
    pub issuer: String,
    pub jwks_url: String,
    /// The client id of the MCP server, which must be the token's actor.
    pub actor: String,
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn run_backend(
    listener: TcpListener,
    api: BackendApi,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let url = reqwest::Url::parse(&api.url)
        .map_err(|e| std::io::Error::other(format!("BACKEND_URL: {e}")))?;
    let router = Router::new()
        .route(url.path(), get(hello))
        .with_state(Arc::new(api));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[derive(Deserialize)]
struct Delegated {
    sub: String,
    #[serde(default)]
    act: Option<Value>,
}

async fn hello(State(api): State<Arc<BackendApi>>, headers: HeaderMap) -> Response {
    match check(&api, &headers).await {
        Ok(token) => Json(json!({
            "message": format!("hello {}, via {}", token.sub, api.actor),
            "sub": token.sub,
            "actor": api.actor,
        }))
        .into_response(),
        Err((status, why)) => (status, [(header::WWW_AUTHENTICATE, "Bearer")], why).into_response(),
    }
}

async fn check(api: &BackendApi, headers: &HeaderMap) -> Result<Delegated, (StatusCode, String)> {
    let unauthorized = |why: String| (StatusCode::UNAUTHORIZED, why);
    let token = (headers.get(header::AUTHORIZATION))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("send a bearer token".into()))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| unauthorized("not a JWT".into()))?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(unauthorized("not an access token (typ at+jwt)".into()));
    }
    // A small API fetches the keys each time; the MCP server shows how to cache them.
    let jwks: JwkSet = async { reqwest::get(&api.jwks_url).await?.json().await }
        .await
        .map_err(|e| unauthorized(format!("cannot fetch Tollgate's keys: {e}")))?;
    let kid = header.kid.unwrap_or_default();
    let key = (jwks.find(&kid))
        .and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
        .ok_or_else(|| unauthorized("signed with a key Tollgate does not publish".into()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&api.issuer]);
    // The token must be for this API, not the MCP server's token passed along.
    validation.set_audience(&[&api.url]);
    let token = jsonwebtoken::decode::<Delegated>(token, &key, &validation)
        .map_err(|e| unauthorized(format!("the token is not for this API: {e}")))?
        .claims;
    // And the MCP server must be the one acting for the user.
    let actor = token.act.as_ref().and_then(|act| act["sub"].as_str());
    if actor != Some(api.actor.as_str()) {
        return Err((
            StatusCode::FORBIDDEN,
            format!(
                "the token's act names {actor:?}, not the MCP server {}",
                api.actor
            ),
        ));
    }
    Ok(token)
}
