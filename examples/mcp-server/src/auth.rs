//! The OAuth half of the server: one axum middleware that checks the bearer token of every
//! MCP request (RFC 9068, RFC 8707 audience, RFC 6750 challenges) and the scope of every
//! tool call, and binds each MCP session to its user.

use crate::{SCOPE_ADMIN, SCOPE_FORECAST, SCOPE_TOOLS, Settings};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use rmcp::schemars;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The largest request body read to check a tool's scope (rmcp's own limit).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// An unknown `kid` refetches the JWKS at most this often, so made-up key ids cannot make
/// this server hammer Tollgate.
const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(10);
/// Requests wait for a JWKS fetch; a hung Tollgate must not hang them for ever.
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// The claims of a verified access token that the tools use; `iss`, `aud` and `exp` are
/// checked by `jsonwebtoken` before this is built.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Claims {
    pub sub: String,
    pub client_id: String,
    #[serde(default)]
    pub scope: String,
}

impl Claims {
    /// Whether a granted scope covers `scope`. Scopes are colon paths here, as at Tollgate:
    /// `mcp:weather` covers `mcp:weather:forecast`, and a last `*` stands for one segment
    /// ("Servers MUST account for scope hierarchies", MCP Scope Challenge Handling).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|granted| covers(granted, scope))
    }
}

/// Whether the granted scope `granted` covers the needed `needed`: equal, or `needed` lies
/// below it segment by segment, where a last `*` in `granted` matches any one segment.
fn covers(granted: &str, needed: &str) -> bool {
    if granted.is_empty() {
        return false;
    }
    let mut wanted = needed.split(':');
    let mut segments = granted.split(':').peekable();
    while let Some(segment) = segments.next() {
        let Some(wanted) = wanted.next() else {
            return false;
        };
        if segment == "*" && segments.peek().is_none() {
            return true;
        }
        if segment != wanted {
            return false;
        }
    }
    true
}

pub(crate) struct Auth {
    settings: Settings,
    metadata_url: String,
    http: reqwest::Client,
    keys: Mutex<Keys>,
    /// Who opened each MCP session (`Mcp-Session-Id` to `sub`). The token authenticates
    /// every request; the session id only names a conversation, so a session is bound to its
    /// user and another user's valid token cannot use it (MCP security best practices,
    /// "Session Hijacking").
    session_owners: Mutex<HashMap<String, String>>,
}

/// The token the caller sent, for a tool that exchanges it (`call_backend`).
#[derive(Clone)]
pub(crate) struct CallerToken(pub String);

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
}

/// Checks the access token of every MCP request, and the scope of every tool call, before
/// rmcp sees the request; the verified claims go into the request's extensions.
pub(crate) async fn authenticate(
    State(auth): State<Arc<Auth>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer_token(request.headers()).map(str::to_owned) else {
        // RFC 6750 §3.1: a request without credentials gets no error code.
        return auth.challenge(StatusCode::UNAUTHORIZED, SCOPE_TOOLS, None);
    };
    let claims = match auth.verify(&token).await {
        Ok(claims) => claims,
        Err(why) => {
            let error = Some(("invalid_token", why.as_str()));
            return auth.challenge(StatusCode::UNAUTHORIZED, SCOPE_TOOLS, error);
        }
    };
    let (mut parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let tool = called_tool(&body);
    let needed = required_scopes(tool.as_deref());
    let missing: Vec<&str> = (needed.iter().copied())
        .filter(|scope| !claims.has_scope(scope))
        .collect();
    if !missing.is_empty() {
        // MCP "Scope Challenge Handling": 403 naming the scopes to ask for (step-up
        // authorization). Without the base scope, the one the 401 challenge asks for,
        // nothing is allowed, not even initialize or tools/list. The granted scopes are
        // included too, so that a client that replaces its scope with the challenge's
        // (2025-11-25) keeps what it had, and one that takes the union (2026-07-28) gets
        // the same set.
        let scopes = match missing.as_slice() {
            [one] => format!("the scope {one}"),
            many => format!("the scopes {}", many.join(" ")),
        };
        let why = match &tool {
            Some(tool) => format!("the tool {tool} needs {scopes}"),
            None => format!("every request to this MCP server needs {scopes}"),
        };
        let error = Some(("insufficient_scope", why.as_str()));
        let granted = claims.scope.split(' ').filter(|scope| !scope.is_empty());
        let wanted: Vec<&str> = granted.chain(missing).collect();
        return auth.challenge(StatusCode::FORBIDDEN, &wanted.join(" "), error);
    }
    let session = (parts.headers.get(SESSION_HEADER))
        .and_then(|session| session.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = &session {
        let owners = auth.session_owners.lock().await;
        if owners
            .get(session)
            .is_some_and(|owner| *owner != claims.sub)
        {
            let why = "this MCP session was opened by another user; initialize a new one";
            return (StatusCode::FORBIDDEN, why).into_response();
        }
    }
    let user = claims.sub.clone();
    let closing = parts.method == axum::http::Method::DELETE;
    parts.extensions.insert(claims);
    parts.extensions.insert(CallerToken(token));
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if response.status().is_success() {
        let mut owners = auth.session_owners.lock().await;
        match (session, response.headers().get(SESSION_HEADER)) {
            (Some(session), _) if closing => {
                owners.remove(&session);
            }
            // rmcp hands out the session id in its answer to `initialize`.
            (None, Some(opened)) => {
                if let Ok(opened) = opened.to_str() {
                    owners.insert(opened.to_owned(), user);
                }
            }
            _ => {}
        }
    }
    response
}

const SESSION_HEADER: &str = "mcp-session-id";

/// The scopes a request needs: the base scope always, and for a tool call the tool's own.
fn required_scopes(tool: Option<&str>) -> &'static [&'static str] {
    match tool {
        Some("admin_stats") => &[SCOPE_TOOLS, SCOPE_ADMIN],
        Some("forecast") => &[SCOPE_TOOLS, SCOPE_FORECAST],
        // Unknown tools need the base scope only (rmcp then says they are unknown).
        _ => &[SCOPE_TOOLS],
    }
}

/// The tool named by a JSON-RPC `tools/call` request. Streamable HTTP carries one JSON-RPC
/// message per POST (batches were removed in 2025-06-18 and rmcp refuses them).
fn called_tool(body: &[u8]) -> Option<String> {
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message["method"] != "tools/call" {
        return None;
    }
    message["params"]["name"].as_str().map(str::to_owned)
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1; the scheme is
/// case-insensitive). MCP forbids tokens in the query string.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let (scheme, token) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Auth {
    pub(crate) fn new(settings: Settings, metadata_url: String) -> Self {
        Auth {
            settings,
            metadata_url,
            http: reqwest::Client::new(),
            keys: Mutex::default(),
            session_owners: Mutex::default(),
        }
    }

    /// A `WWW-Authenticate` challenge, shaped as in the MCP specification's examples. Every
    /// one names the metadata (RFC 9728 §5.1) and the scope to ask for (MCP 2025-11-25); a
    /// refused token also gets an error code and says why (RFC 6750 §3).
    fn challenge(&self, status: StatusCode, scope: &str, error: Option<(&str, &str)>) -> Response {
        let metadata = self.metadata_url.as_str();
        let params = match error {
            None => vec![("resource_metadata", metadata), ("scope", scope)],
            Some((code, why)) => vec![
                ("error", code),
                ("scope", scope),
                ("resource_metadata", metadata),
                ("error_description", why),
            ],
        };
        let quoted = params.iter().map(|(name, value)| {
            // A quoted-string in a header holds printable ASCII without '"' and '\\'.
            let value: String = value
                .chars()
                .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\'))
                .collect();
            format!(r#"{name}="{value}""#)
        });
        let value = format!("Bearer {}", quoted.collect::<Vec<_>>().join(", "));
        // The header is what clients act on; the body is for people and for clients that
        // only look at the message (MCP Inspector 0.15 starts OAuth when it reads "401").
        let body = format!(
            "{} {}: {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default(),
            error.map_or("send an access token from the authorization server", |e| e
                .1)
        );
        (status, [(header::WWW_AUTHENTICATE, value)], body).into_response()
    }

    async fn verify(&self, token: &str) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| "the token is not a JWT")?;
        // RFC 9068 §4: an access token is typed, so that an ID token or another JWT signed
        // by the same keys cannot be passed off as one.
        if !matches!(header.typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
            return Err("the token is not a JWT access token (typ is not at+jwt)".into());
        }
        let kid = header.kid.ok_or("the token names no signing key (kid)")?;
        let key = self.key(&kid).await?;
        // RS256 only, whatever the token's header claims (no alg confusion, no "none").
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        // RFC 8707 / MCP: the token must have been issued for this server, or a server
        // that got a token for itself could replay it here.
        validation.set_audience(&[&self.settings.public_url]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // RFC 7519 §4.1.5: a token is not accepted before its `nbf` (jsonwebtoken checks it
        // only when asked; `tollgate check` CH-28 found that).
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation);
        data.map(|data| data.claims).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => "the token has expired".into(),
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
            ErrorKind::InvalidAudience => format!(
                "the token's audience is not {} (ask for it with resource={0})",
                self.settings.public_url
            ),
            ErrorKind::InvalidIssuer => {
                format!("the token was not issued by {}", self.settings.issuer)
            }
            ErrorKind::InvalidSignature => "the token's signature is wrong".into(),
            _ => format!("the token is not valid: {e}"),
        })
    }

    /// The key named `kid`, from the cached JWKS or, for a key not seen yet (Tollgate
    /// rotated its keys), from a fresh one.
    async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        let mut keys = self.keys.lock().await;
        let stale = keys
            .fetched
            .is_none_or(|at| at.elapsed() > JWKS_REFETCH_AFTER);
        if !keys.by_kid.contains_key(kid) && stale {
            keys.fetched = Some(Instant::now());
            let jwks: JwkSet = async {
                let request = self.http.get(&self.settings.jwks_url).timeout(JWKS_TIMEOUT);
                let response = request.send().await?;
                response.error_for_status()?.json().await
            }
            .await
            .map_err(|e| format!("cannot fetch the signing keys: {e}"))?;
            keys.by_kid = (jwks.keys.iter())
                .filter_map(|jwk| {
                    Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?))
                })
                .collect();
        }
        let unknown = || "the token's signing key is not one of Tollgate's".to_owned();
        keys.by_kid.get(kid).cloned().ok_or_else(unknown)
    }
}
