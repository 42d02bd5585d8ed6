//! A database outage (issue 20, item 6): requests that need the database answer
//! `503 temporarily_unavailable` with `Retry-After` (RFC 6749 JSON on the JSON endpoints, the
//! error page on `/authorize`), not `500 server_error`, and the server recovers by itself
//! once the database is back.

use crate::helpers::{Backend, RegisteredClient, TestApp, assert_error_page, assert_oauth_error};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn machine_client(app: &TestApp) -> RegisteredClient {
    app.register_ok(&json!({
        "grant_types": ["client_credentials"],
        "response_types": [],
        "token_endpoint_auth_method": "client_secret_basic"
    }))
    .await
}

async fn client_credentials(app: &TestApp, client: &RegisteredClient) -> reqwest::Response {
    app.client_credentials(&client.client_id, client.client_secret.as_deref(), &[])
        .await
}

/// 503, `Retry-After: 5`, RFC 6749 JSON `temporarily_unavailable` that says why.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("5".to_owned()),
        "status {}",
        response.status()
    );
    let description = assert_oauth_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
    assert!(
        description.contains("cannot reach its database"),
        "{description}"
    );
}

async fn assert_unavailable_page(response: reqwest::Response) {
    assert_eq!(response.headers()["retry-after"], "5");
    let page = assert_error_page(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        page.contains("temporarily_unavailable") && page.contains("cannot reach its database"),
        "{page}"
    );
}

/// Polls (every 100 ms, at most 20 s) until a client credentials request succeeds again.
async fn until_recovered(app: &TestApp, client: &RegisteredClient) {
    for _ in 0..200 {
        if client_credentials(app, client).await.status() == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not recover after the database came back");
}

/// PostgreSQL: every connection of the test database terminated and new ones refused
/// (`ALLOW_CONNECTIONS false`), as in a failover. Token, registration, revocation and
/// introspection answer 503 JSON, the authorization endpoint the 503 page; once
/// connections are allowed again the same server answers 200 without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn a_postgres_outage_is_503_with_retry_after_and_the_server_recovers() {
    use sqlx::{Connection, Executor};
    let app = TestApp::builder(Backend::Postgres)
        .with_resource_server()
        .spawn()
        .await;
    let machine = machine_client(&app).await;
    let public = app.public_client().await;
    let response = client_credentials(&app, &machine).await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let name = url::Url::parse(app.database_url())
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let admin_url = std::env::var("TOLLGATE_TEST_POSTGRES_URL").unwrap();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();

    assert_unavailable(client_credentials(&app, &machine).await).await;
    assert_unavailable(
        app.register(&json!({"redirect_uris": [crate::helpers::CALLBACK]}))
            .await,
    )
    .await;
    assert_unavailable(app.revoke(&public.client_id, &token).await).await;
    let rs = app.resource_server();
    let introspection = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(&rs.client_id, rs.client_secret.as_deref())
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_unavailable(introspection).await;
    let params = app.authorize_params(&public.client_id, &[]);
    assert_unavailable_page(app.get_authorize(&params).await).await;

    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    until_recovered(&app, &machine).await;
    app.consent_form(&params).await;
    let introspected = app.introspect(&app.resource_server(), &token).await;
    assert_eq!(introspected["active"], true, "{introspected}");
}

/// SQLite: another process holds the write lock beyond the busy timeout (10 s). Writes
/// answer 503 (token, registration: JSON; `/authorize` with automatic consent: the page);
/// once the lock is released the same server answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_locked_too_long_is_503_and_the_server_recovers() {
    use sqlx::{Connection, Executor};
    let app = TestApp::builder(Backend::Sqlite)
        .config(|c| c.consent.mode = tollgate::config::ConsentMode::Auto)
        .spawn()
        .await;
    let machine = machine_client(&app).await;
    let public = app.public_client().await;
    assert_eq!(
        client_credentials(&app, &machine).await.status(),
        StatusCode::OK
    );

    let mut locker = sqlx::SqliteConnection::connect(app.database_url())
        .await
        .unwrap();
    locker.execute("BEGIN IMMEDIATE").await.unwrap();
    let params = app.authorize_params(&public.client_id, &[]);
    let registration_request = json!({"redirect_uris": [crate::helpers::CALLBACK]});
    let (token, registration, authorization) = tokio::join!(
        client_credentials(&app, &machine),
        app.register(&registration_request),
        app.get_authorize(&params),
    );
    assert_unavailable(token).await;
    assert_unavailable(registration).await;
    assert_unavailable_page(authorization).await;

    locker.execute("ROLLBACK").await.unwrap();
    until_recovered(&app, &machine).await;
    let callback = crate::helpers::Callback::from_response(&app.get_authorize(&params).await);
    assert!(callback.get("code").is_some(), "{callback:?}");
}
