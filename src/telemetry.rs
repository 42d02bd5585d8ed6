//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default: Tollgate at info). Request
//! spans carry the method and the matched route, never a query string or a body.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("tollgate=info"));
    // Fails only if a subscriber is already set (an embedding program's), which is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files and CI logs.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
