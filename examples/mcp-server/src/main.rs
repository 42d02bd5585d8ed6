//! An MCP server protected by Tollgate. Configuration, all optional:
//!
//! - `MCP_BIND`: the address to listen on; `127.0.0.1:8000`.
//! - `MCP_PUBLIC_URL`: the canonical URL of the MCP endpoint, as clients use it;
//!   `http://127.0.0.1:8000/mcp`. It is the `resource` of the protected resource metadata and
//!   the `aud` every access token must carry. Its path is where the endpoint is served.
//! - `TOLLGATE_ISSUER`: Tollgate's issuer identifier; `http://127.0.0.1:9000`. It is put byte
//!   for byte into `authorization_servers` and required as the tokens' `iss`.
//! - `TOLLGATE_JWKS_URL`: where to fetch Tollgate's keys; `{TOLLGATE_ISSUER}/jwks.json`. Set
//!   it when this server reaches Tollgate by another name than browsers do (in
//!   docker-compose, `http://tollgate:9000/jwks.json`).
//! - `BACKEND_URL`: the backend API `call_backend` calls (see the `tollgate-example-backend`
//!   binary); unset: the tool is not set up. With it, `MCP_CLIENT_ID` and
//!   `MCP_CLIENT_SECRET` (this server's client at Tollgate, which a `[[token_exchange]]` rule
//!   must name; `mcp-server` and no default secret) and `TOLLGATE_TOKEN_URL`
//!   (`{TOLLGATE_ISSUER}/token`).

use std::net::SocketAddr;
use std::process::ExitCode;
use tollgate_example_mcp_server::{BackendSettings, Settings, run_until};

const HELP: &str = "\
tollgate-example-mcp-server: an MCP server (Streamable HTTP) that accepts only Tollgate's
access tokens issued for its own URL. Start Tollgate first (tollgate serve), then this,
then point an MCP client at http://127.0.0.1:8000/mcp.

Usage: tollgate-example-mcp-server [--help]

It takes no arguments; the environment configures it (defaults in parentheses):
  MCP_BIND           the address to listen on (127.0.0.1:8000)
  MCP_PUBLIC_URL     the MCP endpoint's canonical URL, the tokens' aud
                     (http://127.0.0.1:8000/mcp)
  TOLLGATE_ISSUER    Tollgate's issuer, required as the tokens' iss (http://127.0.0.1:9000)
  TOLLGATE_JWKS_URL  where Tollgate's keys are fetched ({TOLLGATE_ISSUER}/jwks.json)
  BACKEND_URL        the backend API of the call_backend tool (unset: no such tool),
                     with MCP_CLIENT_ID (mcp-server), MCP_CLIENT_SECRET and
                     TOLLGATE_TOKEN_URL ({TOLLGATE_ISSUER}/token)

It stops on Ctrl-C or SIGTERM.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("tollgate-example-mcp-server: unexpected argument '{other}'\n\n{HELP}");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tollgate-example-mcp-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate-example-mcp-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let bind: SocketAddr = var("MCP_BIND", "127.0.0.1:8000")
        .parse()
        .map_err(|e| format!("MCP_BIND: {e}"))?;
    let issuer = var("TOLLGATE_ISSUER", "http://127.0.0.1:9000");
    let backend = std::env::var("BACKEND_URL")
        .ok()
        .map(|url| BackendSettings {
            url,
            token_url: var("TOLLGATE_TOKEN_URL", &format!("{issuer}/token")),
            client_id: var("MCP_CLIENT_ID", "mcp-server"),
            client_secret: var("MCP_CLIENT_SECRET", ""),
        });
    let settings = Settings {
        public_url: var("MCP_PUBLIC_URL", "http://127.0.0.1:8000/mcp"),
        jwks_url: var("TOLLGATE_JWKS_URL", &format!("{issuer}/jwks.json")),
        issuer,
        backend,
    };
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!(
        "mcp server listening on {} with resource {}",
        listener.local_addr()?,
        settings.public_url
    );
    run_until(listener, settings, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM: what `docker compose down` sends. As PID 1 in a container a process
/// gets no default action for SIGTERM, so without this handler it would be ignored and the
/// container killed only after Docker's 10 s grace period.
async fn shutdown_signal() {
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            // Without a handler the default action (ending the process) still applies.
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
