//! Every statement a request runs uses an index (issue 18: cost must not grow with state).
//!
//! The test drives the flows a client and a resource server use over real HTTP, records
//! every SQL statement the server ran on the way (sqlx reports each one as a `tracing` event
//! with target `sqlx::query`), and asks the database for its plan of each: SQLite's
//! `EXPLAIN QUERY PLAN` must not `SCAN` a table, PostgreSQL's generic plan (the one a
//! prepared statement gets, with `enable_seqscan` off so that a small table does not hide a
//! missing index) must not hold a `Seq Scan`. A table that stays small by design is listed
//! in `SMALL_TABLES` with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The black-box tests' helpers (`tests/api/helpers.rs` and its folder), shared as they are.
#[path = "api"]
#[allow(dead_code, unused_imports)]
mod api {
    pub mod helpers;
}
use api::helpers;

use helpers::{Backend, RESOURCE, TestApp, TestDb, client_information};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

/// Tables whose size does not grow with use, so a scan of them costs the same forever.
const SMALL_TABLES: &[(&str, &str)] = &[
    (
        "signing_keys",
        "the current key and the few kept for verification",
    ),
    ("server_settings", "one row per setting"),
];

static RECORDING: AtomicBool = AtomicBool::new(false);

fn statements() -> &'static Mutex<BTreeSet<String>> {
    static STATEMENTS: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    STATEMENTS.get_or_init(Default::default)
}

/// Keeps the text of every statement sqlx reports while `RECORDING` is on.
struct StatementRecorder;

impl<S: tracing::Subscriber> Layer<S> for StatementRecorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" || !RECORDING.load(Ordering::SeqCst) {
            return;
        }
        #[derive(Default)]
        struct Fields {
            summary: String,
            statement: String,
        }
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.record_str(field, &format!("{value:?}"));
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        // sqlx puts the whole text in `db.statement` only when the summary shortened it.
        let sql = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let verb = sql.split(' ').next().unwrap_or("").to_ascii_uppercase();
        if ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].contains(&verb.as_str()) {
            statements().lock().unwrap().insert(sql);
        }
    }
}

fn install_recorder() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = Registry::default().with(StatementRecorder);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The flows of the MCP authorization spec and the endpoints around them, each once.
async fn drive_every_endpoint(app: &TestApp) {
    let metadata = app.metadata().await;
    assert_eq!(metadata["issuer"], app.url(""));
    app.jwks().await;

    // Dynamic registration, the code flow, refresh, introspection and revocation.
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let active = app.introspect(&app.resource_server(), access).await;
    assert_eq!(active["active"], true);
    let refreshed = app.refresh(&client.client_id, refresh, &[]).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    // A second use of the rotated refresh token: reuse detection revokes the family.
    let reused = app.refresh(&client.client_id, refresh, &[]).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let inactive = app.introspect(&app.resource_server(), access).await;
    assert_eq!(inactive["active"], false);

    // A code redeemed twice, then a revocation.
    let code = app.code(&client.client_id).await;
    let tokens = app.redeemed(&client.client_id, &code).await;
    let replay = app.redeem(&client.client_id, &code).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let revoked = app
        .revoke(&client.client_id, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);

    // A machine client (client_secret_basic, client_credentials) and RFC 7592.
    let machine = app
        .register_ok(&json!({
            "client_name": "Machine",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .await;
    let issued = app
        .client_credentials(
            &machine.client_id,
            machine.client_secret.as_deref(),
            &[("resource", RESOURCE)],
        )
        .await;
    assert_eq!(issued.status(), StatusCode::OK);
    let (uri, token) = machine.management();
    let (current, token) = client_information(app.read_client(&uri, &token).await).await;
    let mut updated = current.clone();
    for field in [
        "registration_client_uri",
        "registration_access_token",
        "client_secret_expires_at",
        "client_id_issued_at",
        "client_secret",
    ] {
        updated.as_object_mut().unwrap().remove(field);
    }
    updated["client_name"] = json!("Renamed machine");
    let (renamed, token) =
        client_information(app.update_client(&uri, &token, &updated).await).await;
    assert_eq!(renamed["client_name"], "Renamed machine");

    // The device flow: authorization, then a poll before anyone approved.
    let device = app
        .register_ok(&json!({
            "client_name": "CLI",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let started: Value = reqwest::Client::new()
        .post(app.url("/device_authorization"))
        .form(&[
            ("client_id", device.client_id.as_str()),
            ("resource", RESOURCE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pending = app
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", started["device_code"].as_str().unwrap()),
            ("client_id", &device.client_id),
        ])
        .await;
    assert_eq!(pending.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        pending.json::<Value>().await.unwrap()["error"],
        "authorization_pending"
    );

    // The control API's revocations and expiries, by client, user and flow (issue 14).
    let events = app.events_of(&client.client_id).await;
    let flow = events.iter().find(|e| e["flow"].is_string()).unwrap()["flow"].clone();
    for path in ["/revoke", "/expire"] {
        for owner in [
            json!({"client_id": machine.client_id}),
            json!({"user": "dev"}),
            json!({"flow": flow}),
        ] {
            app.control_ok(reqwest::Method::POST, path, Some(owner))
                .await;
        }
    }

    // The developer console's view of the event log, and the client deleted.
    assert!(!app.events_of(&client.client_id).await.is_empty());
    assert_eq!(
        app.delete_client(&uri, &token).await.status(),
        StatusCode::NO_CONTENT
    );
}

/// The plan lines of `sql` that read a whole table, or the error that kept the database from
/// planning it.
async fn full_scans(db_url: &str, sql: &str) -> Result<Vec<String>, String> {
    let small = |table: &str| SMALL_TABLES.iter().any(|(name, _)| *name == table);
    if db_url.starts_with("sqlite:") {
        use sqlx::{Connection, Row};
        let mut db = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        // Unbound parameters are NULL, which does not change the plan.
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&mut db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .map(|row| row.get::<String, _>("detail"))
            .filter(|detail| {
                let Some(rest) = detail.strip_prefix("SCAN ") else {
                    return false;
                };
                let table = rest.split(' ').next().unwrap_or("");
                !rest.contains("USING INDEX")
                    && !rest.contains("USING COVERING INDEX")
                    && !rest.contains("USING INTEGER PRIMARY KEY")
                    && !rest.starts_with("CONSTANT ROW")
                    // A multi-row INSERT's own VALUES list, not a table.
                    && !rest.ends_with("VALUES CLAUSE")
                    && !rest.starts_with('(')
                    && !small(table)
            })
            .collect())
    } else {
        use sqlx::{Connection, Executor, Row};
        let mut db = sqlx::PgConnection::connect(db_url).await.unwrap();
        db.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
            .await
            .unwrap();
        // The highest `$N`: a multi-row INSERT has many.
        let params = sql
            .split('$')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
            .max()
            .unwrap_or(0);
        db.execute(sqlx::AssertSqlSafe(format!("PREPARE planned AS {sql}")))
            .await
            .map_err(|e| e.to_string())?;
        let nulls = vec!["NULL"; params].join(", ");
        let execute = if params == 0 {
            "EXPLAIN EXECUTE planned".to_owned()
        } else {
            format!("EXPLAIN EXECUTE planned({nulls})")
        };
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(execute))
            .fetch_all(&mut db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .map(|row| row.get::<String, _>(0))
            .filter(|line| {
                line.split("Seq Scan on ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .is_some_and(|table| !small(table))
            })
            .collect())
    }
}

async fn every_statement_on_a_request_path_uses_an_index(backend: Backend) {
    install_recorder();
    let db = TestDb::new(backend).await;
    let app = TestApp::builder(backend)
        .on_db(db.clone())
        .with_resource_server()
        .spawn()
        .await;
    statements().lock().unwrap().clear();
    RECORDING.store(true, Ordering::SeqCst);
    drive_every_endpoint(&app).await;
    RECORDING.store(false, Ordering::SeqCst);
    let recorded: Vec<String> = statements().lock().unwrap().iter().cloned().collect();
    app.stop().await;

    // Ten tables are read and written on these paths in some twenty distinct statements;
    // fewer would mean the recorder missed them and the test proves nothing.
    assert!(recorded.len() >= 20, "recorded only {recorded:?}");
    let mut problems = Vec::new();
    for sql in &recorded {
        match full_scans(&db.url, sql).await {
            Ok(scans) if scans.is_empty() => {}
            Ok(scans) => problems.push(format!("{sql}\n    reads a whole table: {scans:?}")),
            Err(error) => problems.push(format!("{sql}\n    could not be planned: {error}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} statements on {backend:?}:\n{}",
        problems.len(),
        recorded.len(),
        problems.join("\n")
    );
}

// One test for both backends: the recorder is process-wide, so the two must not overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_on_a_request_path_uses_an_index_on_both_backends() {
    every_statement_on_a_request_path_uses_an_index(Backend::Sqlite).await;
    if std::env::var("TOLLGATE_TEST_POSTGRES_URL").is_ok() {
        every_statement_on_a_request_path_uses_an_index(Backend::Postgres).await;
    }
}
