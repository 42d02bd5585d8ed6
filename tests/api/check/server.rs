//! A small MCP server (OAuth resource server of a Tollgate) on 127.0.0.1:0, written for the
//! `tollgate check` tests: correct by default, or with one deliberate [`Flaw`], the kind of
//! mistake real resource servers make. It speaks both eras of Streamable HTTP with JSON
//! answers (legacy `initialize` with sessions, and 2026-07-28 per-request `_meta`), or
//! only the legacy one. Tokens are checked in [`super::verify`].

use super::verify::{Keys, verify};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const SCOPE: &str = "mcp:tools";

/// One deliberate mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    None,
    /// Never looks at `aud`.
    SkipsAudience,
    /// Takes any `aud` that starts with its URL.
    AudiencePrefix,
    /// Does not check `exp`.
    AcceptsExpired,
    /// Does not check `nbf`.
    AcceptsNotYetValid,
    /// Does not check `iss`.
    AcceptsWrongIssuer,
    /// Skips the signature when it does not know the `kid`.
    AcceptsUnknownKid,
    /// Takes `alg: none` at its word.
    AcceptsAlgNone,
    /// Verifies HS256 with its copy of the public key (PEM) as the secret.
    AcceptsHs256,
    /// Does not check `typ`.
    AcceptsWrongTyp,
    /// Reads `?access_token=` when there is no header.
    AcceptsQueryToken,
    /// Introspects every token but ignores `active`.
    IgnoresRevocation,
    /// Answers 401 to a token that lacks the scope.
    UnauthorizedForScope,
    /// Names the issuer with a trailing slash in `authorization_servers`.
    WrongAuthorizationServers,
    /// Names its URL with a trailing slash as `resource`.
    WrongResource,
    /// No `resource_metadata` in the challenge.
    NoResourceMetadata,
    /// No `scope` in the 401 challenge (the 403 still names it).
    NoScopeInChallenge,
    /// `error="invalid_request"` in the challenge to a request without a token.
    ErrorWithoutToken,
    /// Nothing at the origin's `/.well-known/oauth-authorization-server`.
    NoLegacyMetadata,
}

/// Which Streamable HTTP eras the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eras {
    Both,
    /// No `server/discover`: a modern request without a session gets 400.
    LegacyOnly,
}

/// How the server asks Tollgate about tokens, besides verifying them itself.
#[derive(Debug, Clone)]
pub struct Introspection {
    pub url: String,
    pub client_id: String,
    pub secret: String,
}

pub struct Settings {
    pub issuer: String,
    pub jwks: Value,
    pub flaw: Flaw,
    pub eras: Eras,
    pub introspection: Option<Introspection>,
}

pub(super) struct Rs {
    pub url: String,
    pub issuer: String,
    pub metadata_url: String,
    pub flaw: Flaw,
    pub eras: Eras,
    pub keys: Keys,
    pub introspection: Option<Introspection>,
    pub http: reqwest::Client,
}

/// A running server; stops when dropped.
pub struct TestRs {
    pub url: String,
    _stop: oneshot::Sender<()>,
}

impl TestRs {
    pub async fn spawn(settings: Settings) -> TestRs {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let rs = Arc::new(Rs {
            url: format!("{origin}/mcp"),
            metadata_url: format!("{origin}/.well-known/oauth-protected-resource/mcp"),
            keys: Keys::from_jwks(&settings.jwks),
            issuer: settings.issuer,
            flaw: settings.flaw,
            eras: settings.eras,
            introspection: settings.introspection,
            http: reqwest::Client::new(),
        });
        let legacy = format!("{}/.well-known/oauth-authorization-server", rs.issuer);
        let mut router = Router::new()
            .route("/mcp", post(mcp))
            .route("/.well-known/oauth-protected-resource/mcp", get(metadata))
            .route("/.well-known/oauth-protected-resource", get(metadata));
        if settings.flaw != Flaw::NoLegacyMetadata {
            router = router.route(
                "/.well-known/oauth-authorization-server",
                get(move || std::future::ready(Redirect::temporary(&legacy))),
            );
        }
        let url = rs.url.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            axum::serve(listener, router.with_state(rs))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .into_future(),
        );
        TestRs { url, _stop: stop }
    }
}

/// RFC 9728 §2.
async fn metadata(State(rs): State<Arc<Rs>>) -> Response {
    let resource = match rs.flaw {
        Flaw::WrongResource => format!("{}/", rs.url),
        _ => rs.url.clone(),
    };
    let issuer = match rs.flaw {
        Flaw::WrongAuthorizationServers => format!("{}/", rs.issuer),
        _ => rs.issuer.clone(),
    };
    axum::Json(json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": [SCOPE],
        "bearer_methods_supported": ["header"],
    }))
    .into_response()
}

impl Rs {
    /// A `WWW-Authenticate: Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1).
    fn challenge(&self, status: StatusCode, error: Option<&str>) -> Response {
        let mut params = Vec::new();
        let error = match (error, self.flaw) {
            (None, Flaw::ErrorWithoutToken) => Some("invalid_request"),
            (error, _) => error,
        };
        if let Some(error) = error {
            params.push(format!(r#"error="{error}""#));
        }
        if self.flaw != Flaw::NoScopeInChallenge || status == StatusCode::FORBIDDEN {
            params.push(format!(r#"scope="{SCOPE}""#));
        }
        if self.flaw != Flaw::NoResourceMetadata {
            params.push(format!(r#"resource_metadata="{}""#, self.metadata_url));
        }
        let value = format!("Bearer {}", params.join(", "));
        (status, [(header::WWW_AUTHENTICATE, value)]).into_response()
    }
}

async fn mcp(
    State(rs): State<Arc<Rs>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = (headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.to_owned());
    let token = match (bearer, rs.flaw) {
        (Some(token), _) => token,
        (None, Flaw::AcceptsQueryToken) if query.contains_key("access_token") => {
            query["access_token"].clone()
        }
        (None, _) => return rs.challenge(StatusCode::UNAUTHORIZED, None),
    };
    let claims = match verify(&rs, &token).await {
        Ok(claims) => claims,
        Err(_) => return rs.challenge(StatusCode::UNAUTHORIZED, Some("invalid_token")),
    };
    let granted = claims["scope"].as_str().unwrap_or_default();
    if !granted.split(' ').any(|s| s == SCOPE) {
        // MCP Error Handling: 403 with the scope to ask for (RFC 6750 §3.1).
        return match rs.flaw {
            Flaw::UnauthorizedForScope => {
                rs.challenge(StatusCode::UNAUTHORIZED, Some("invalid_token"))
            }
            _ => rs.challenge(StatusCode::FORBIDDEN, Some("insufficient_scope")),
        };
    }
    rpc(&rs, &headers, &body)
}

/// The JSON-RPC side, always answered as `application/json`.
fn rpc(rs: &Rs, headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let method = message["method"].as_str().unwrap_or_default();
    let id = message["id"].clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let modern =
        message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] == "2026-07-28";
    if method == "initialize" {
        let asked = message["params"]["protocolVersion"]
            .as_str()
            .unwrap_or_default();
        let version = if ["2025-06-18", "2025-11-25"].contains(&asked) {
            asked
        } else {
            "2025-11-25"
        };
        let result = json!({"protocolVersion": version, "capabilities": {"tools": {}},
            "serverInfo": {"name": "broken-rs", "version": "0"}});
        let session = [("mcp-session-id", "session-1")];
        return (
            session,
            axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})),
        )
            .into_response();
    }
    if method.starts_with("notifications/") {
        return StatusCode::ACCEPTED.into_response();
    }
    if modern && rs.eras == Eras::Both {
        // 2026-07-28 Streamable HTTP §Server Validation.
        if header("mcp-protocol-version") != Some("2026-07-28")
            || header("mcp-method") != Some(method)
        {
            let error = json!({"code": -32020, "message": "Header mismatch"});
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": error})),
            )
                .into_response();
        }
    } else if header("mcp-session-id") != Some("session-1") {
        // What a legacy server says to a request outside a session.
        return (
            StatusCode::BAD_REQUEST,
            "Bad Request: No valid session ID provided",
        )
            .into_response();
    }
    let result = match method {
        "server/discover" => {
            json!({"supportedVersions": ["2025-06-18", "2025-11-25", "2026-07-28"],
            "capabilities": {"tools": {}}, "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "broken-rs"}}})
        }
        "tools/list" => json!({"tools": [{"name": "whoami", "inputSchema": {"type": "object"}}]}),
        _ => {
            let error = json!({"code": -32601, "message": "Method not found"});
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": error})),
            )
                .into_response();
        }
    };
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}
