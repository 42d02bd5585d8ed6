//! Slow and idle clients (issue 20, item 2): a header-read timeout that also ends idle
//! kept-alive connections, and a connection limit that makes further connections wait (with
//! a log line) rather than take every descriptor; legitimate requests go on working.

use crate::helpers::{Backend, ServeProcess, TestDb, client};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection; a guard (30 s) keeps a broken server from
/// hanging the test, it is not a timing assertion.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        // A reset counts as closed too.
        let _ = stream.read_to_end(&mut received).await;
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off_and_the_limit_makes_others_wait() {
    let db = TestDb::new(Backend::Sqlite).await;
    let process = ServeProcess::start_with_log(
        &["--database-url", &db.url],
        &[
            ("TOLLGATE_LIMITS__MAX_CONNECTIONS", "2"),
            ("TOLLGATE_LIMITS__HEADER_READ_TIMEOUT", "300ms"),
        ],
    )
    .await;
    let metadata = format!("{}/.well-known/oauth-authorization-server", process.base);

    // Two connections take the whole limit: one sends half a request line (slowloris),
    // the other nothing at all.
    let mut slow = TcpStream::connect(process.addr).await.unwrap();
    slow.write_all(b"GET /.well-known/oauth-autho")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(process.addr).await.unwrap();
    // A legitimate request waits for a free connection, and gets it once the header-read
    // timeout has cut the two off.
    let response = client().get(&metadata).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["issuer"], process.base.as_str());
    assert_eq!(
        until_closed(&mut slow).await,
        b"",
        "closed without an answer"
    );
    assert_eq!(until_closed(&mut silent).await, b"");

    // A kept-alive connection is answered, then closed once idle for the timeout.
    let mut idle = TcpStream::connect(process.addr).await.unwrap();
    idle.write_all(
        b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await
    .unwrap();
    let answered = String::from_utf8(until_closed(&mut idle).await).unwrap();
    assert!(answered.starts_with("HTTP/1.1 200 OK"), "{answered}");
    assert!(answered.contains(&process.base), "{answered}");

    let log = process.stop_with_log().await;
    assert!(
        log.contains("2 connections are open, the most this server keeps (limits.max_connections)"),
        "{log}"
    );
}
