//! The example backend API (`tollgate_example_mcp_server::backend`). Configuration:
//!
//! - `BACKEND_BIND`: the address to listen on; `127.0.0.1:7000`.
//! - `BACKEND_URL`: its URL, the `aud` its tokens must carry; `http://127.0.0.1:7000/api`.
//! - `TOLLGATE_ISSUER`: `http://127.0.0.1:9000`; `TOLLGATE_JWKS_URL`: `{issuer}/jwks.json`.
//! - `MCP_CLIENT_ID`: the MCP server's client id, which must be the tokens' actor;
//!   `mcp-server`.

use tollgate_example_mcp_server::backend::{BackendApi, run_backend};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let issuer = var("TOLLGATE_ISSUER", "http://127.0.0.1:9000");
    let api = BackendApi {
        url: var("BACKEND_URL", "http://127.0.0.1:7000/api"),
        jwks_url: var("TOLLGATE_JWKS_URL", &format!("{issuer}/jwks.json")),
        issuer,
        actor: var("MCP_CLIENT_ID", "mcp-server"),
    };
    let listener = tokio::net::TcpListener::bind(var("BACKEND_BIND", "127.0.0.1:7000")).await?;
    println!(
        "backend listening on {} with url {}",
        listener.local_addr()?,
        api.url
    );
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    run_backend(listener, api, interrupt).await?;
    Ok(())
}
