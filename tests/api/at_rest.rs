//! What the database holds: codes, refresh tokens, client secrets and registration access
//! tokens only as digests (the "stored only as hashes"; OAuth 2.1 §7.1 on token
//! storage). Reads everything the server stored, on both backends, and looks for the raw
//! values.

use crate::helpers::{Backend, TestApp, tollgate};
use crate::on_both_backends;
use serde_json::Value;

/// Every byte of stored data as text: the SQLite file and its write-ahead log, or each
/// PostgreSQL table's rows as JSON.
async fn everything_stored(app: &TestApp) -> String {
    let url = app.database_url();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut all = String::new();
    for table in tables {
        let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(row_to_json(t)::text, '\n') FROM \"{table}\" t"
        )))
        .fetch_one(&mut db)
        .await
        .unwrap();
        all.push_str(&rows.unwrap_or_default());
    }
    all
}

async fn credentials_are_stored_only_as_digests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.confidential_client("client_secret_post").await;
    let secret = client.client_secret.clone().unwrap();
    let registration_token = client.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A code that was issued and not redeemed, and one that was.
    let unredeemed = app.code(&client.client_id).await;
    let code = app.code(&client.client_id).await;
    let tokens: Value = app
        .exchange(
            &client.client_id,
            &code,
            &[("client_secret", secret.as_str())],
        )
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();

    let stored = everything_stored(&app).await;
    assert!(
        stored.contains(&client.client_id),
        "the dump must see the stored data at all"
    );
    for (what, raw) in [
        ("client secret", secret.as_str()),
        ("registration access token", registration_token.as_str()),
        ("unredeemed code", unredeemed.as_str()),
        ("redeemed code", code.as_str()),
        ("refresh token", refresh_token),
    ] {
        assert!(!stored.contains(raw), "the {what} is stored in clear");
    }
}

/// With `refresh.reuse = "grace"` the answer to a refresh is kept for the grace period,
/// sealed: neither the new tokens nor the spent refresh token are in the database.
async fn refresh_answers_kept_for_a_grace_period_are_sealed(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.refresh.reuse = tollgate::config::RefreshReuse::Grace)
        .spawn()
        .await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let spent = tokens["refresh_token"].as_str().unwrap();
    let answer: Value = app
        .refresh(&client.client_id, spent, &[])
        .await
        .json()
        .await
        .unwrap();
    let stored = everything_stored(&app).await;
    assert!(stored.contains(&client.client_id), "the dump sees the data");
    for (what, raw) in [
        ("spent refresh token", spent),
        (
            "new refresh token",
            answer["refresh_token"].as_str().unwrap(),
        ),
        ("new access token", answer["access_token"].as_str().unwrap()),
    ] {
        assert!(!stored.contains(raw), "the {what} is stored in clear");
    }
}

/// The stored secret of a client, read from the database itself.
async fn stored_secret(app: &TestApp, client_id: &str) -> String {
    use sqlx::Connection;
    const SQL: &str = "SELECT secret_digest FROM clients WHERE client_id = $1";
    let url = app.database_url();
    let stored: Option<String> = if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(SQL)
            .bind(client_id)
            .fetch_one(&mut db)
            .await
            .unwrap()
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(SQL)
            .bind(client_id)
            .fetch_one(&mut db)
            .await
            .unwrap()
    };
    stored.unwrap_or_else(|| panic!("{client_id} has no stored secret"))
}

/// The `client_secret: ...` line of `tollgate clients add`.
fn printed_secret(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap_or_else(|| panic!("no secret printed:\n{output}"))
        .to_owned()
}

/// Secrets Tollgate generates (dynamic registration, `tollgate clients add` without
/// `--secret`) have 256 bits of entropy and are stored as their SHA-256 digest, so that
/// client authentication stays fast (DESIGN.md: no argon2 for generated client secrets, 17
/// ms each); a secret someone chose (`--secret`) is stored as argon2.
async fn generated_client_secrets_are_stored_as_sha256(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sha256 = |secret: &str| tollgate::secret::token_digest(secret);

    for method in ["client_secret_basic", "client_secret_post"] {
        let client = app.confidential_client(method).await;
        let secret = client.client_secret.unwrap();
        assert_eq!(
            stored_secret(&app, &client.client_id).await,
            sha256(&secret),
            "registered with {method}"
        );
    }

    let db = app.database_url();
    let added = tollgate(&["clients", "add", "--database-url", db, "--client-id", "gen"]);
    let secret = printed_secret(&added);
    assert_eq!(stored_secret(&app, "gen").await, sha256(&secret));
    // The generated secret works, checked against that digest.
    let response = app.client_credentials("gen", Some(&secret), &[]).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let chosen = "a secret someone typed";
    tollgate(&[
        "clients",
        "add",
        "--database-url",
        db,
        "--client-id",
        "chosen",
        "--secret",
        chosen,
    ]);
    let stored = stored_secret(&app, "chosen").await;
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_ne!(stored, sha256(chosen));
}

on_both_backends!(
    credentials_are_stored_only_as_digests,
    refresh_answers_kept_for_a_grace_period_are_sealed,
    generated_client_secrets_are_stored_as_sha256,
);
