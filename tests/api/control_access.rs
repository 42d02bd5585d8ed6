//! Who may use the control API (issue 14): loopback peers; others with `control.token` as a
//! Bearer token; never a web page of another origin; nobody when it is switched off. The
//! peer address is what the server saw (`ConnectInfo`), so the router is driven directly
//! with the address of each case.

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::net::SocketAddr;
use tollgate::config::Config;
use tollgate::secret::Secret;
use tollgate::server::{Launch, Server};
use tower::ServiceExt;

const TOKEN: &str = "a-control-token-of-some-length";

async fn router(change: impl FnOnce(&mut Config)) -> (axum::Router, String) {
    let mut config = Config {
        database_url: "sqlite::memory:".to_owned(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    };
    change(&mut config);
    let server = Server::start(config, Launch::default()).await.unwrap();
    let issuer = server.issuer().to_owned();
    (tollgate::http::router(server.app()), issuer)
}

/// `GET /_tollgate/api/clock` from `peer`, with these headers; the status and the body.
async fn clock(router: &axum::Router, peer: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut request = Request::get("/_tollgate/api/clock");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn loopback_peers_only_unless_a_token_is_configured() {
    let (router, issuer) = router(|_| {}).await;
    for peer in ["127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"] {
        assert_eq!(clock(&router, peer, &[]).await.0, StatusCode::OK, "{peer}");
    }
    let (status, body) = clock(&router, "203.0.113.7:5000", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error_description"],
        "the control API answers loopback peers only; set control.token to let others in \
         with it as a Bearer token"
    );
    // A web page of another origin is refused even on loopback (CSRF); the server's own
    // origin is not another one.
    let evil = [("origin", "https://evil.example")];
    assert_eq!(
        clock(&router, "127.0.0.1:5000", &evil).await.0,
        StatusCode::FORBIDDEN
    );
    let own = [("origin", issuer.as_str())];
    assert_eq!(
        clock(&router, "127.0.0.1:5000", &own).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn others_need_the_token_as_a_bearer_token() {
    let (router, _) = router(|c| c.control.token = Some(Secret::new(TOKEN))).await;
    let remote = "203.0.113.7:5000";
    let (status, body) = clock(&router, remote, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "the control API needs control.token as a Bearer token from this address"
    );
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(
        clock(&router, remote, &[("authorization", &wrong)]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let right = format!("Bearer {TOKEN}");
    let (status, body) = clock(&router, remote, &[("authorization", &right)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["now"].is_i64());
    assert_eq!(clock(&router, "127.0.0.1:1", &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn switched_off_it_is_not_there() {
    let (router, _) = router(|c| c.control.enabled = false).await;
    assert_eq!(
        clock(&router, "127.0.0.1:5000", &[]).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_short_token_is_refused_at_start() {
    let mut config = Config {
        database_url: "sqlite::memory:".to_owned(),
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    };
    config.control.token = Some(Secret::new("short"));
    let error = Server::start(config, Launch::default())
        .await
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "invalid configuration: control.token: must be at least 16 characters: whoever \
         guesses it controls the server's clock, tokens and faults"
    );
}
