//! Bounded state (issue 20, item 1): what an unauthenticated `/authorize` may make the
//! server store (sizes, a per-address rate), and the sweeper that deletes every expired
//! row while keeping what replay detection and revocation still need.

use crate::helpers::{
    Backend, CALLBACK, Callback, RESOURCE, TestApp, assert_error_page, assert_oauth_error,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// The number of rows in each of `tables`, read straight from the test's database.
pub async fn row_counts(app: &TestApp, tables: &[&str]) -> Vec<i64> {
    use sqlx::Connection;
    let url = app.database_url();
    let mut counts = Vec::new();
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        for table in tables {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut db)
                .await
                .unwrap();
            counts.push(n);
        }
        db.close().await.unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        for table in tables {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut db)
                .await
                .unwrap();
            counts.push(n);
        }
        db.close().await.unwrap();
    }
    counts
}

const TABLES: [&str; 5] = [
    "grants",
    "authorization_codes",
    "refresh_tokens",
    "access_tokens",
    "authorization_requests",
];

/// Polls (every 20 ms, for at most 15 s) until the row counts of `TABLES` are `expected`.
async fn until_counts(app: &TestApp, expected: [i64; 5]) {
    let mut last = Vec::new();
    for _ in 0..750 {
        last = row_counts(app, &TABLES).await;
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("rows of {TABLES:?}: {last:?}, expected {expected:?}");
}

/// A sweep deletes the consent requests, access token records and whole grant families that
/// expired before the grace, and keeps the rest: a living family keeps its rotated refresh
/// token, whose second use is still a replay that revokes the family (TK-16).
async fn the_sweeper_deletes_what_expired_and_keeps_what_replay_detection_needs(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.sweep.interval = Duration::from_millis(50);
            c.sweep.grace = Duration::from_secs(60);
            c.sweep.batch = 2; // several batches per kind
            c.access_token_ttl = Duration::from_secs(300);
            c.refresh_token_ttl = Duration::from_secs(3600);
        })
        .spawn()
        .await;
    let public = app.public_client().await;
    let machine = app
        .register_ok(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .await;

    // t0: family A (dead by the end), and a consent page left waiting (expires at t0+600).
    let a = app.tokens(&public.client_id).await;
    let waiting = app.authorize_params(&public.client_id, &[]);
    app.consent_form(&waiting).await;
    assert_eq!(row_counts(&app, &TABLES).await, [1, 1, 1, 1, 1]);
    // t0+3000: family B, refreshed once, so its first refresh token is rotated; and a
    // client credentials token (no grant, expires at t0+3300).
    app.clock.advance(3000);
    let b = app.tokens(&public.client_id).await;
    let b1 = b["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = app.refresh(&public.client_id, &b1, &[]).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let b2: Value = refreshed.json().await.unwrap();
    let machine_token = app
        .client_credentials(&machine.client_id, machine.client_secret.as_deref(), &[])
        .await;
    assert_eq!(machine_token.status(), StatusCode::OK);
    // grants A, B; codes A, B; refresh A1, B1, B2; access B, B-refreshed, machine: A's
    // access token (expired at t0+300) and the consent request (t0+600) were swept.
    until_counts(&app, [2, 2, 3, 3, 0]).await;

    // t0+3700: A's refresh token expired at t0+3600, more than the 60 s grace ago; every
    // access token expired by t0+3300; B's refresh token lives until t0+6600. A new consent
    // request waits (until t0+4300).
    app.clock.advance(700);
    app.consent_form(&waiting).await;
    until_counts(&app, [1, 1, 2, 0, 1]).await;

    // The rotated token of the living family is still recognised as used: its second use
    // is refused and revokes the family, so its successor is refused too.
    let replay = app.refresh(&public.client_id, &b1, &[]).await;
    let description = assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("already used"), "{description}");
    let successor = b2["refresh_token"].as_str().unwrap();
    let revoked = app.refresh(&public.client_id, successor, &[]).await;
    let description = assert_oauth_error(revoked, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(description.contains("revoked"), "{description}");
    // A's refresh token is gone with its family.
    let a1 = a["refresh_token"].as_str().unwrap();
    let gone = app.refresh(&public.client_id, a1, &[]).await;
    assert_oauth_error(gone, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Once B's last token expired too (t0+6600, plus the grace), the family goes.
    app.clock.advance(3000);
    until_counts(&app, [0, 0, 0, 0, 0]).await;
}

/// `state` and `nonce` beyond 4 KiB are refused with `invalid_request` naming the bound,
/// before anything is stored; a `state` that long is not echoed back. At the bound, the
/// request is accepted.
async fn authorize_refuses_state_and_nonce_beyond_the_bound(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let long_state = "s".repeat(4097);
    let params = app.authorize_params(&client.client_id, &[("state", &long_state)]);
    let callback = Callback::from_response(&app.get_authorize(&params).await);
    callback.assert_redirects_to(
        CALLBACK,
        &["error", "error_description", "error_uri", "iss"],
    );
    assert_eq!(callback.one("error"), "invalid_request");
    let description = callback.one("error_description");
    assert!(
        description.contains("state is 4097 bytes long")
            && description.contains("at most 4096 bytes of state"),
        "{description}"
    );

    let long_nonce = "n".repeat(4097);
    let params = app.authorize_params(&client.client_id, &[("nonce", &long_nonce)]);
    let callback = Callback::from_response(&app.get_authorize(&params).await);
    assert_eq!(callback.one("error"), "invalid_request");
    assert_eq!(callback.one("state"), "st1");
    assert!(
        callback
            .one("error_description")
            .contains("at most 4096 bytes of nonce"),
        "{callback:?}"
    );
    let many: Vec<(String, String)> = (0..17)
        .map(|i| ("resource".to_owned(), format!("{RESOURCE}/{i}")))
        .chain(app.authorize_params(&client.client_id, &[("resource", "")]))
        .collect();
    let callback = Callback::from_response(&app.get_authorize(&many).await);
    assert!(
        callback
            .one("error_description")
            .contains("at most 16 resource parameters"),
        "{callback:?}"
    );
    assert_eq!(
        row_counts(&app, &["authorization_requests"]).await,
        [0],
        "nothing stored"
    );

    let at_bound = "s".repeat(4096);
    let nonce = "n".repeat(4096);
    let params = app.authorize_params(
        &client.client_id,
        &[("state", &at_bound), ("nonce", &nonce)],
    );
    app.consent_form(&params).await;
    assert_eq!(row_counts(&app, &["authorization_requests"]).await, [1]);
}

on_both_backends!(
    the_sweeper_deletes_what_expired_and_keeps_what_replay_detection_needs,
    authorize_refuses_state_and_nonce_beyond_the_bound,
);

/// One address may leave `limits.authorizations_per_minute` consent requests stored a
/// minute; the next gets a 429 page with `Retry-After` that says what to do, and nothing is
/// stored for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_requests_per_address_are_limited() {
    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| c.limits.authorizations_per_minute = 3)
        .spawn()
        .await;
    let client = app.public_client().await;
    let params = app.authorize_params(&client.client_id, &[]);
    for _ in 0..3 {
        app.consent_form(&params).await;
    }
    let refused = app.get_authorize(&params).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let page = assert_error_page(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(
        page.contains("temporarily_unavailable")
            && page.contains("at most 3 waiting for consent per address per minute")
            && page.contains("limits.authorizations_per_minute"),
        "{page}"
    );
    assert_eq!(row_counts(&app, &["authorization_requests"]).await, [3]);
}
