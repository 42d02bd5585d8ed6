//! A small MCP server that is an OAuth 2.1 resource server of Tollgate, the way the MCP
//! authorization specification (2025-06-18, 2025-11-25) asks: it publishes RFC 9728 metadata
//! naming Tollgate, accepts only RFC 9068 access tokens issued *for this server*, answers 401
//! with a challenge pointing at the metadata, and 403 `insufficient_scope` to a request whose
//! scope the token lacks: every MCP request needs `mcp:tools`, `admin_stats` needs
//! `mcp:admin` too and `forecast` `mcp:weather:forecast` (or `mcp:weather`, which covers it); an MCP session serves only the user who opened it. MCP is rmcp's
//! Streamable HTTP transport; OAuth is one axum middleware in front of it (`auth`).
//!
//! One tool, `call_backend`, shows token exchange (RFC 8693): it exchanges the caller's token
//! at Tollgate for a token for a backend API, which names this server as the actor (`act`),
//! and calls the API with it (`exchange`); `backend` is such an API, checking `aud` and `act`.

mod auth;
pub mod backend;
mod exchange;
mod tools;

pub use auth::Claims;
pub use exchange::BackendSettings;
pub use tools::SERVER_NAME;

use auth::{Auth, authenticate};
use axum::middleware;
use axum::response::Redirect;
use axum::{Router, routing::get};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tools::Tools;
use tower_http::cors::{AllowHeaders, CorsLayer};

/// The scope every MCP request needs (the one the 401 challenge asks for), the one
/// `admin_stats` needs besides, and the fine-grained one `forecast` needs besides: a scope
/// path that `mcp:weather` also covers, as Tollgate's scope trees do.
pub const SCOPE_TOOLS: &str = "mcp:tools";
pub const SCOPE_ADMIN: &str = "mcp:admin";
pub const SCOPE_FORECAST: &str = "mcp:weather:forecast";

#[derive(Debug, Clone)]
pub struct Settings {
    /// The canonical URL of this MCP server: the `resource` of its metadata and the `aud` its
    /// tokens must carry (RFC 8707, RFC 9068 §4).
    pub public_url: String,
    /// Tollgate's issuer identifier, byte for byte as in its tokens' `iss`.
    pub issuer: String,
    /// Where this server fetches Tollgate's keys (it may differ from `{issuer}/jwks.json`
    /// when this server reaches Tollgate by another name than browsers do).
    pub jwks_url: String,
    /// The backend API `call_backend` calls, and this server's credentials at Tollgate for
    /// exchanging tokens for it; without it the tool says it is not set up.
    pub backend: Option<BackendSettings>,
}

/// Serves the MCP server on `listener` until the process ends.
pub async fn run(listener: TcpListener, settings: Settings) -> std::io::Result<()> {
    run_until(listener, settings, std::future::pending()).await
}

/// Serves the MCP server on `listener` until `shutdown` completes, then ends every MCP
/// session (their SSE streams would otherwise keep the connections open for ever) and
/// returns once the requests in progress are answered.
pub async fn run_until(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sessions = CancellationToken::new();
    let router = router(settings, sessions.clone())?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            sessions.cancel();
        })
        .await
}

fn router(settings: Settings, sessions: CancellationToken) -> std::io::Result<Router> {
    let parse = |name: &str, value: &str| {
        reqwest::Url::parse(value).map_err(|e| std::io::Error::other(format!("{name}: {e}")))
    };
    let url = parse("MCP_PUBLIC_URL", &settings.public_url)?;
    let issuer = parse("TOLLGATE_ISSUER", &settings.issuer)?;
    // RFC 9728 §3.1: the metadata URL is the well-known prefix followed by the resource's path,
    // without a terminating slash.
    let path = url.path().trim_end_matches('/');
    let metadata_path = format!("/.well-known/oauth-protected-resource{path}");
    let metadata = axum::Json(serde_json::json!({
        "resource": settings.public_url,
        "authorization_servers": [settings.issuer],
        "scopes_supported": [SCOPE_TOOLS, SCOPE_ADMIN, SCOPE_FORECAST],
        // The Authorization header only (RFC 6750 §2.1): MCP forbids tokens in query strings.
        "bearer_methods_supported": ["header"],
    }));
    let tools = Tools::new(settings.backend.clone());
    let metadata_url = format!("{}{metadata_path}", url.origin().ascii_serialization());
    let auth = Arc::new(Auth::new(settings, metadata_url));
    // rmcp refuses Host headers it does not know (DNS rebinding); add the public host.
    let hosts = ["localhost", "127.0.0.1", "::1"].map(String::from);
    let hosts = hosts.into_iter().chain(url.host_str().map(String::from));
    let mcp = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_allowed_hosts(hosts)
            .with_cancellation_token(sessions),
    );

    let mut router = Router::new()
        .route_service(if path.is_empty() { "/" } else { path }, mcp)
        .layer(middleware::from_fn_with_state(auth, authenticate))
        // The metadata is public: it is how a client finds the authorization server.
        .route(&metadata_path, get(metadata.clone()));
    if !path.is_empty() {
        // Also at the root, for clients that only try the path-less well-known URL.
        router = router.route("/.well-known/oauth-protected-resource", get(metadata));
    }
    // Clients of the 2025-03-26 revision know no protected resource metadata: they look for
    // the authorization server's metadata at this server's origin (checklist MD-21). Send
    // them to Tollgate's; a redirect, not a copy, so that they get it from Tollgate itself.
    let legacy = Redirect::temporary(&authorization_server_metadata_url(&issuer));
    router = router.route(
        "/.well-known/oauth-authorization-server",
        get(move || std::future::ready(legacy.clone())),
    );
    // Browser-based MCP clients fetch the metadata and call the server cross-origin. The
    // token is a header, never a cookie, so any origin may. A `*` would not allow the
    // Authorization header (Fetch standard), so the requested headers are mirrored.
    let cors = CorsLayer::permissive().allow_headers(AllowHeaders::mirror_request());
    Ok(router.layer(cors))
}

/// RFC 8414 §3.1: the well-known string goes between the issuer's host and its path.
fn authorization_server_metadata_url(issuer: &reqwest::Url) -> String {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    format!("{origin}/.well-known/oauth-authorization-server{path}")
}
