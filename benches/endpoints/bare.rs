//! The yardstick for the metadata and JWKS figures: a bare axum server answering the same two
//! paths with the same bytes, and nothing else (no middleware, no state). It runs as this bench
//! binary started again with `--serve-bare`, in its own process with the same
//! `#[tokio::main]` multi-threaded runtime as `tollgate serve`, so both sides are measured
//! the same way.

use axum::http::header;
use bytes::Bytes;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const FLAG: &str = "--serve-bare";

/// The child's side: serves the two files until killed.
pub async fn serve(metadata: &Path, jwks: &Path) {
    let metadata = Bytes::from(std::fs::read(metadata).expect("metadata bytes"));
    let jwks = Bytes::from(std::fs::read(jwks).expect("JWKS bytes"));
    let json =
        |body: Bytes| move || async move { ([(header::CONTENT_TYPE, "application/json")], body) };
    let app = axum::Router::new()
        .route(crate::server::METADATA, axum::routing::get(json(metadata)))
        .route(crate::server::JWKS, axum::routing::get(json(jwks)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!("listening on {}", listener.local_addr().expect("address"));
    axum::serve(listener, app).await.expect("serve");
}

/// The parent's side: the bare server running in a child process.
pub struct Bare {
    _child: Child,
    pub base: String,
}

impl Bare {
    /// Starts it, serving `metadata` and `jwks` (written to `dir`).
    pub async fn start(dir: &Path, metadata: &[u8], jwks: &[u8]) -> Bare {
        let (metadata_file, jwks_file) =
            (dir.join("bare-metadata.json"), dir.join("bare-jwks.json"));
        std::fs::write(&metadata_file, metadata).expect("write metadata");
        std::fs::write(&jwks_file, jwks).expect("write JWKS");
        let mut child = Command::new(std::env::current_exe().expect("bench binary"))
            .arg(FLAG)
            .arg(&metadata_file)
            .arg(&jwks_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the bare server");
        let stdout = child.stdout.take().expect("stdout");
        let line = BufReader::new(stdout)
            .lines()
            .next_line()
            .await
            .ok()
            .flatten()
            .expect("the bare server's address");
        let addr = line.strip_prefix("listening on ").expect("address line");
        Bare {
            base: format!("http://{addr}"),
            _child: child,
        }
    }
}
