//! The command line for CI: layered configuration, check-config, token minting, clients.

use crate::helpers::{
    Backend, CALLBACK, Callback, RESOURCE, ServeProcess, TestApp, TestDb, assert_oauth_error,
    client, jwt_header, jwt_payload, run_tollgate, tollgate,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use tollgate::clock::Clock;
use tollgate::store::{ServerSetting, Store};
use tollgate::testing::{VerifyError, verify_access_token_at};

fn example_file() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tollgate.example.toml")
        .display()
        .to_string()
}

/// Flags override the environment, which overrides the file; secrets are redacted.
#[test]
fn configuration_layers_and_redaction() {
    let file = example_file();
    let from_file = tollgate(&["print-config", "--config", &file]);
    assert!(
        from_file.contains(r#"issuer = "http://127.0.0.1:9000""#),
        "{from_file}"
    );
    assert!(!from_file.contains("change-me-in-ci") && !from_file.contains("wonderland"));
    assert!(from_file.contains(r#"secret = "[redacted]""#));

    let env = [
        ("TOLLGATE_ISSUER", "http://localhost:9100"),
        ("TOLLGATE_CONSENT__MODE", "auto"),
    ];
    let output = run_tollgate(&["print-config", "--config", &file], &env);
    let from_env = String::from_utf8(output.stdout).unwrap();
    assert!(
        from_env.contains(r#"issuer = "http://localhost:9100""#),
        "{from_env}"
    );
    assert!(from_env.contains(r#"mode = "auto""#), "{from_env}");

    let output = run_tollgate(
        &[
            "print-config",
            "--config",
            &file,
            "--issuer",
            "http://127.0.0.1:9200",
            "--user",
            "carol",
        ],
        &env,
    );
    let from_flags = String::from_utf8(output.stdout).unwrap();
    assert!(
        from_flags.contains(r#"issuer = "http://127.0.0.1:9200""#),
        "{from_flags}"
    );
    // --user adds to the file's users.
    assert!(
        from_flags.contains(r#"subject = "alice""#) && from_flags.contains(r#"subject = "carol""#)
    );

    let output = run_tollgate(&["print-config"], &[("TOLLGATE_BIND", "nonsense")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("BIND"));
}

/// check-config accepts the example and lists every problem of a bad file with its line: a
/// wrong type hides nothing else, not even a problem of meaning in the same client.
#[test]
fn check_config_reports_problems_with_lines() {
    let ok = tollgate(&["check-config", &example_file()]);
    assert!(ok.ends_with(": ok\n"), "{ok}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        r#"issuer = "http://127.0.0.1:9000/"
access_token_ttl = "5 minutes"

[registration]
per_minute = "many"

[[clients]]
client_id = "x"
redirect_uris = ["http://evil.example/cb"]
consent = "sometimes"
user = "nobody"

[[resources]]
url = "not a url"
default = "yes"

[[resources]]
url = "http://127.0.0.1:8000/mcp"
scopes = ["mcp:tools"]
default_scopes = ["mcp:admin"]
scope_descriptions = { "mcp:other" = "Something else" }
"#,
    )
    .unwrap();
    let output = run_tollgate(&["check-config", bad.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8(output.stdout).unwrap();
    let path = bad.display().to_string();
    let expected = [
        (1, "issuer"),                           // meaning: no trailing slash
        (2, "access_token_ttl"),                 // type
        (5, "registration.per_minute"),          // type
        (9, "clients[0].redirect_uris[0]"),      // meaning
        (10, "clients[0].consent"),              // type
        (11, "clients[0].user"),                 // meaning
        (14, "resources[0].url"),                // meaning
        (15, "resources[0].default"),            // type
        (20, "resources[1].default_scopes[0]"),  // meaning: not one of its scopes
        (21, "resources[1].scope_descriptions"), // meaning: describes no scope of it
    ];
    for (line, setting) in expected {
        assert!(
            report.contains(&format!("{path}:{line}: {setting}: ")),
            "line {line} ({setting}) missing from:\n{report}"
        );
    }
    assert_eq!(report.lines().count(), expected.len(), "{report}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("10 problem(s)"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs check-config on `text`; returns its exit code, stdout with the file's path replaced
/// by FILE, and stderr.
fn check_config(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(&file, text).unwrap();
    let output = run_tollgate(&["check-config", file.to_str().unwrap()], &[]);
    let path = file.display().to_string();
    (
        output.status.code(),
        String::from_utf8(output.stdout)
            .unwrap()
            .replace(&path, "FILE"),
        String::from_utf8(output.stderr)
            .unwrap()
            .replace(&path, "FILE"),
    )
}

/// A syntax error hides nothing else: its line is taken out and the rest is checked, and
/// the report is in line order. A value taken out (here the secret, for its type) hides
/// only what rests on it ("only a confidential client may introspect" would be about the
/// default, not the file). Where lines cannot be taken out, the report says checking
/// stopped.
#[test]
fn check_config_goes_on_after_a_syntax_error() {
    let (code, stdout, stderr) = check_config(
        r#"issuer = "http://127.0.0.1:9000/"
bind =

[[clients]]
client_id = "rs"
secret = 7
introspection = true
redirect_uris = ["http://evil.example/cb"]
"#,
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout,
        "FILE:1: issuer: invalid issuer 'http://127.0.0.1:9000/': remove the trailing '/': \
         clients compare the issuer character for character with the one they derived the \
         metadata URL from (RFC 8414 §3.3)\n\
         FILE:2: syntax error: string values must be quoted, expected literal string\n\
         FILE:6: clients[0].secret: invalid type: integer `7`, expected a string\n\
         FILE:8: clients[0].redirect_uris[0]: redirect URI 'http://evil.example/cb' uses http \
         on a non-loopback host; redirect URIs must use https, or http on 127.0.0.1, [::1] or \
         localhost (MCP authorization, Communication Security)\n"
    );
    assert_eq!(stderr, "tollgate: 4 problem(s) in FILE\n");

    let (code, stdout, stderr) =
        check_config("[[clients]\nclient_id = \"x\"\nsecret = 7\n[[clients]]\nclient_id = 5\n");
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout,
        "FILE:1: syntax error: unclosed array table, expected `]`\n\
         FILE: checking stopped after the syntax errors: they could not be taken out line by \
         line (as with an unclosed array, string or table header), so no setting was checked \
         for its type or meaning; fix them and check again\n"
    );
    assert_eq!(stderr, "tollgate: 1 problem(s) (or more) in FILE\n");
}

/// TOLLGATE_CONFIG names the configuration file, as --config does (which wins over it).
#[test]
fn tollgate_config_names_the_file() {
    let file = example_file();
    let env = [("TOLLGATE_CONFIG", file.as_str())];
    let output = run_tollgate(&["print-config"], &env);
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.contains(r#"subject = "alice""#)
            && printed.contains(r#"client_id = "ci-pipeline""#),
        "{printed}"
    );
    let output = run_tollgate(&["check-config"], &env);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{file}: ok\n")
    );

    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[[users]]\nsubject = \"zoe\"\n").unwrap();
    let output = run_tollgate(&["print-config", "--config", other.to_str().unwrap()], &env);
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.contains(r#"subject = "zoe""#) && !printed.contains("alice"),
        "{printed}"
    );
}

/// print-config redacts the argon2 hashes of chosen secrets and passwords like the secrets
/// themselves: whoever has a hash can test guesses against it offline.
#[test]
fn print_config_redacts_secret_and_password_hashes() {
    let password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$cGFzc3dvcmRoYXNocGFzc3dvcmRoYXNoMTIzNDU2Nzg";
    let secret_hash = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0b3RoZXI$c2VjcmV0aGFzaHNlY3JldGhhc2hzZWNyZXRoYXNoMTI";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            "[[users]]\nsubject = \"alice\"\npassword_hash = \"{password_hash}\"\n\n\
             [[clients]]\nclient_id = \"ci\"\nsecret_hash = \"{secret_hash}\"\n"
        ),
    )
    .unwrap();
    let printed = tollgate(&["print-config", "--config", file.to_str().unwrap()]);
    assert!(
        !printed.contains("argon2") && !printed.contains("c2FsdHNhbHRzYWx0"),
        "{printed}"
    );
    assert!(
        printed.contains("subject = \"alice\"\npassword_hash = \"[redacted]\"\n"),
        "{printed}"
    );
    assert!(
        printed.contains("client_id = \"ci\"\nsecret_hash = \"[redacted]\"\n"),
        "{printed}"
    );
}

/// print-config never shows the database password (a compose file puts it in
/// TOLLGATE_DATABASE_URL).
#[test]
fn print_config_masks_the_database_password() {
    let output = run_tollgate(
        &["print-config"],
        &[(
            "TOLLGATE_DATABASE_URL",
            "postgres://tollgate:s3cretpw@postgres:5432/tollgate",
        )],
    );
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(!printed.contains("s3cretpw"), "{printed}");
    assert!(
        printed.contains(r#"database_url = "postgres://tollgate:***@postgres:5432/tollgate""#),
        "{printed}"
    );
}

/// `tollgate token`: the running server's JWKS verifies it and introspection knows it;
/// the "wrong on purpose" options produce tokens a resource server must refuse.
async fn token_command_mints_tokens_the_server_verifies(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let mint = |extra: &[&str]| {
        let mut args = vec![
            "token",
            "--database-url",
            app.database_url(),
            "--issuer",
            &app.issuer,
            "--sub",
            "alice",
            "--aud",
            RESOURCE,
            "--scope",
            "mcp:tools",
        ];
        args.extend_from_slice(extra);
        tollgate(&args).trim().to_owned()
    };
    let token = mint(&["--claim", "team=blue", "--claim", "level=3", "--ttl", "60s"]);
    let claims = app.verify_access_token(&token, RESOURCE).await.unwrap();
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "mcp:tools");
    assert_eq!(claims["team"], "blue");
    assert_eq!(claims["level"], 3);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    assert_eq!(jwt_header(&token)["typ"], "at+jwt");
    assert_eq!(
        app.introspect(&resource_server, &token).await["active"],
        true
    );

    let expired = mint(&["--expired"]);
    assert!(
        jwt_payload(&expired)["exp"].as_i64().unwrap()
            < jwt_payload(&token)["iat"].as_i64().unwrap()
    );
    assert_eq!(
        app.verify_access_token(&expired, RESOURCE).await,
        Err(VerifyError::Expired)
    );
    assert_eq!(
        app.introspect(&resource_server, &expired).await["active"],
        false
    );

    let wrong_audience = mint(&["--wrong-audience"]);
    assert_eq!(
        app.verify_access_token(&wrong_audience, RESOURCE).await,
        Err(VerifyError::WrongAudience)
    );
    let unknown_key = mint(&["--unknown-key"]);
    let kid = jwt_header(&unknown_key)["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        app.verify_access_token(&unknown_key, RESOURCE).await,
        Err(VerifyError::UnknownKey(Some(kid)))
    );
    let wrong_issuer = mint(&["--wrong-issuer"]);
    assert_eq!(
        app.verify_access_token(&wrong_issuer, RESOURCE).await,
        Err(VerifyError::WrongIssuer)
    );
    let verified = verify_access_token_at(
        &app.jwks().await,
        "https://wrong-issuer.invalid",
        &wrong_issuer,
        RESOURCE,
        app.clock.now(),
    )
    .unwrap();
    assert_eq!(
        verified["sub"], "alice",
        "only the issuer is wrong: the signature and audience are right"
    );
}

/// The defects `tollgate check` sends besides (issue 13), one per option: a verifier that
/// applies RFC 9068 §4 and RFC 7519 refuses each token for the one reason it was made for,
/// and nothing else about it is wrong.
async fn token_command_makes_each_check_defect_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mint = |extra: &str| {
        let args = [
            "token",
            "--database-url",
            app.database_url(),
            "--issuer",
            &app.issuer,
            "--aud",
            RESOURCE,
            "--scope",
            "mcp:tools",
            extra,
        ];
        tollgate(&args).trim().to_owned()
    };
    // RFC 7519 §4.1.5: not before `nbf`, ten minutes ahead.
    let early = mint("--not-yet-valid");
    let nbf = jwt_payload(&early)["nbf"].as_i64().unwrap();
    assert!(nbf >= app.clock.now() + 500, "nbf {nbf}");
    assert_eq!(
        app.verify_access_token(&early, RESOURCE).await,
        Err(VerifyError::NotYetValid)
    );
    // RFC 8707 §2, MCP Token Handling: another resource on the same origin.
    let sibling = mint("--sibling-audience");
    assert_eq!(
        jwt_payload(&sibling)["aud"],
        "http://127.0.0.1:8000/mcp/another-resource"
    );
    assert_eq!(
        app.verify_access_token(&sibling, RESOURCE).await,
        Err(VerifyError::WrongAudience)
    );
    let tampered = mint("--tampered-signature");
    assert_eq!(
        app.verify_access_token(&tampered, RESOURCE).await,
        Err(VerifyError::BadSignature)
    );
    // RFC 9068 §4: alg none is never accepted; the kid is the real one.
    let unsigned = mint("--alg-none");
    assert_eq!(jwt_header(&unsigned)["alg"], "none");
    assert!(unsigned.ends_with('.'), "{unsigned}");
    let kid = app.jwks().await["keys"][0]["kid"].clone();
    assert_eq!(jwt_header(&unsigned)["kid"], kid);
    assert!(app.verify_access_token(&unsigned, RESOURCE).await.is_err());
    // RFC 8725 §2.1: HMAC keyed with the RSA public key.
    let confused = mint("--hs256-public-key");
    assert_eq!(jwt_header(&confused)["kid"], kid);
    assert_eq!(
        app.verify_access_token(&confused, RESOURCE).await,
        Err(VerifyError::WrongAlgorithm("HS256".to_owned()))
    );
    // RFC 9068 §2.1: an ID token's typ.
    let typed = mint("--wrong-typ");
    assert_eq!(
        app.verify_access_token(&typed, RESOURCE).await,
        Err(VerifyError::WrongType {
            found: Some("JWT".to_owned()),
            expected: "at+jwt"
        })
    );
}

/// `tollgate token` reads the configuration as the server does: a configured user's extra
/// claims go into their token (a --claim of the same name wins), and without --aud the
/// audience is the default resource's URL.
async fn token_command_uses_the_users_claims_and_the_default_resource(backend: Backend) {
    const OTHER: &str = "http://127.0.0.1:8001/mcp";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[users]]
subject = "alice"
claims = {{ email = "alice@example.com", groups = ["admins"] }}

[[resources]]
url = "{OTHER}"

[[resources]]
url = "{RESOURCE}"
default = true
"#
        ),
    )
    .unwrap();
    let app = TestApp::builder(backend).config_file(&file).spawn().await;
    let file = file.to_str().unwrap();
    let mint = |extra: &[&str]| {
        let mut args = vec![
            "token",
            "--config",
            file,
            "--database-url",
            app.database_url(),
        ];
        args.extend_from_slice(extra);
        tollgate(&args).trim().to_owned()
    };
    let token = mint(&["--sub", "alice"]);
    let claims = app.verify_access_token(&token, RESOURCE).await.unwrap();
    assert_eq!(claims["aud"], RESOURCE, "the default resource");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"], serde_json::json!(["admins"]));

    let token = mint(&["--sub", "alice", "--claim", "email=a@example.org"]);
    assert_eq!(jwt_payload(&token)["email"], "a@example.org");
    assert_eq!(jwt_payload(&token)["groups"], serde_json::json!(["admins"]));
    // Someone who is not a configured user has no extra claims; --aud names the audience.
    let token = mint(&["--sub", "carol", "--aud", OTHER]);
    let claims = app.verify_access_token(&token, OTHER).await.unwrap();
    assert_eq!(claims["aud"], OTHER);
    assert!(claims.get("email").is_none(), "{claims}");
}

/// Without --issuer, `tollgate token` signs as the issuer that the server on the database
/// recorded, so that its resource servers accept the token (TK-13: `iss` is the issuer);
/// an explicit issuer or bind address wins, with a warning. A lifetime beyond the grace
/// period of the server's signing keys is refused: the token would outlive its key.
async fn token_command_signs_as_the_servers_issuer(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.keys.grace_period = Duration::from_secs(3600))
        .spawn()
        .await;
    let url = app.database_url();
    let token = tollgate(&["token", "--database-url", url, "--aud", RESOURCE]);
    let claims = app
        .verify_access_token(token.trim(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["iss"], app.issuer);

    for (flag, value, issuer) in [
        ("--issuer", "http://127.0.0.1:9300", "http://127.0.0.1:9300"),
        ("--bind", "127.0.0.1:9400", "http://127.0.0.1:9400"),
    ] {
        let output = run_tollgate(
            &[
                "token",
                "--database-url",
                url,
                "--aud",
                RESOURCE,
                flag,
                value,
            ],
            &[],
        );
        assert!(output.status.success());
        let token = String::from_utf8(output.stdout).unwrap();
        assert_eq!(jwt_payload(token.trim())["iss"], issuer);
        let warning = String::from_utf8(output.stderr).unwrap();
        assert!(
            warning.contains("warning") && warning.contains(&app.issuer),
            "{warning}"
        );
    }

    // The server's grace period is 1h; the command's own default (1d) does not count.
    let too_long = run_tollgate(&["token", "--database-url", url, "--ttl", "2h"], &[]);
    assert_eq!(too_long.status.code(), Some(1));
    let message = String::from_utf8(too_long.stderr).unwrap();
    assert!(message.contains("grace period of 1h"), "{message}");
    let token = tollgate(&["token", "--database-url", url, "--ttl", "1h"]);
    let claims = jwt_payload(token.trim());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    // The store writes a setting only when it changes.
    let store = Store::connect(url).await.unwrap();
    let recorded = store.server_setting(ServerSetting::Issuer).await.unwrap();
    assert_eq!(recorded.as_deref(), Some(app.issuer.as_str()));
    let record = |value: &'static str| store.record_server_setting(ServerSetting::Issuer, value, 1);
    assert!(record("http://127.0.0.1:9500").await.unwrap());
    assert!(!record("http://127.0.0.1:9500").await.unwrap());
    store.close().await;
}

/// Every migration applied to the database at `url`: version, when, checksum.
async fn applied_migrations(url: &str) -> Vec<(i64, String, Vec<u8>)> {
    use sqlx::Connection;
    const SQL: &str = "SELECT version, CAST(installed_on AS TEXT), checksum \
                       FROM _sqlx_migrations ORDER BY version";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_as(SQL)
            .fetch_all(&mut connection)
            .await
            .unwrap()
    } else {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_as(SQL)
            .fetch_all(&mut connection)
            .await
            .unwrap()
    }
}

/// `tollgate migrate` sets up an empty database and exits 0; run again it changes nothing;
/// `tollgate serve` then works on that database. `tollgate healthcheck` without --url finds
/// the server by TOLLGATE_BIND (a wildcard address meaning loopback), as
/// docker-compose.yml runs it, and fails once the server is gone.
async fn migrate_then_serve_and_healthcheck(backend: Backend) {
    let db = TestDb::new(backend).await;
    let output = tollgate(&["migrate", "--database-url", &db.url]);
    assert!(output.contains("up to date"), "{output}");
    let applied = applied_migrations(&db.url).await;
    let versions: Vec<i64> = applied.iter().map(|m| m.0).collect();
    let folder = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut shipped: Vec<i64> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.split('_').next().unwrap().parse().unwrap()
        })
        .collect();
    shipped.sort_unstable();
    assert_eq!(versions, shipped, "every shipped migration, once");
    tollgate(&["migrate", "--database-url", &db.url]);
    assert_eq!(
        applied_migrations(&db.url).await,
        applied,
        "a second migrate applied something"
    );

    let server = ServeProcess::start(&["--database-url", &db.url], &[]).await;
    let metadata: Value = client()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], server.base);

    let port = server.addr.port();
    let binds = [server.addr.to_string(), format!("0.0.0.0:{port}")];
    for bind in &binds {
        let output = run_tollgate(&["healthcheck"], &[("TOLLGATE_BIND", bind)]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let said = String::from_utf8(output.stdout).unwrap();
        assert!(
            said.contains(&format!("http://127.0.0.1:{port}/healthz")),
            "{said}"
        );
    }
    server.stop().await;
    let output = run_tollgate(&["healthcheck"], &[("TOLLGATE_BIND", &binds[1])]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unhealthy"));
}

/// `tollgate clients add|list|remove` against the server's database: `remove` revokes what
/// was issued before it (introspection shows every token inactive, and the refresh token
/// stays dead even for a new client with the same id), not only new requests.
async fn clients_command_manages_pre_registered_clients(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let db = app.database_url();
    let added = tollgate(&[
        "clients",
        "add",
        "--database-url",
        db,
        "--client-id",
        "job",
        "--name",
        "Nightly job",
    ]);
    let secret = added
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let get_token = || app.client_credentials("job", Some(&secret), &[]);
    let response = get_token().await;
    assert_eq!(response.status(), StatusCode::OK);
    let job_token: Value = response.json().await.unwrap();
    let job_token = job_token["access_token"].as_str().unwrap().to_owned();
    let add_public = || {
        tollgate(&[
            "clients",
            "add",
            "--database-url",
            db,
            "--public",
            "--client-id",
            "agent",
            "--redirect-uri",
            CALLBACK,
        ])
    };
    add_public();
    let agent = app.tokens("agent").await;
    let agent_tokens = [
        agent["access_token"].as_str().unwrap().to_owned(),
        agent["refresh_token"].as_str().unwrap().to_owned(),
    ];
    for token in [&job_token, &agent_tokens[0], &agent_tokens[1]] {
        assert_eq!(
            app.introspect(&resource_server, token).await["active"],
            true
        );
    }

    let listing = tollgate(&["clients", "list", "--database-url", db]);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("job ") && l.contains("cli") && l.contains("Nightly job")),
        "{listing}"
    );
    let duplicate = run_tollgate(
        &["clients", "add", "--database-url", db, "--client-id", "job"],
        &[],
    );
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("exists already"));
    for client_id in ["job", "agent"] {
        let said = tollgate(&["clients", "remove", client_id, "--database-url", db]);
        assert_eq!(
            said,
            format!("removed client {client_id} and revoked everything issued to it\n")
        );
    }
    for token in [&job_token, &agent_tokens[0], &agent_tokens[1]] {
        let answer = app.introspect(&resource_server, token).await;
        assert_eq!(answer, serde_json::json!({"active": false}));
    }
    let response = get_token().await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // A new client under the old id does not inherit the old grant.
    add_public();
    let response = app.refresh("agent", &agent_tokens[1], &[]).await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        description,
        "the refresh token is not one this server issued"
    );
}

/// Adds a client with `tollgate clients add ARGS` on `database_url`; returns its output.
fn add_client(database_url: &str, args: &[&str]) -> String {
    let mut all = vec!["clients", "add", "--database-url", database_url];
    all.extend_from_slice(args);
    tollgate(&all)
}

/// The credentials of a client, for `TestApp::introspect`.
fn caller(client_id: &str, secret: &str) -> crate::helpers::RegisteredClient {
    crate::helpers::RegisteredClient {
        client_id: client_id.to_owned(),
        client_secret: Some(secret.to_owned()),
        body: Value::Null,
    }
}

/// Each option of `tollgate clients add` shows in what the server then does: --public (the
/// code flow without a secret, no client_credentials), --secret (that secret and no other),
/// --auth-method (only that method), --consent with --approve-as (no page, and the user),
/// --consent deny, --introspection (every client's tokens).
async fn clients_add_options_take_effect(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.users.push(tollgate::config::User::named("bob")))
        .spawn()
        .await;
    let db = app.database_url();

    let said = add_client(
        db,
        &["--public", "--client-id", "pub", "--redirect-uri", CALLBACK],
    );
    assert_eq!(
        said,
        "client_id: pub\ntoken_endpoint_auth_method: none\n\
         grant_types: authorization_code refresh_token\n"
    );
    let pub_token = app.tokens("pub").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .token(&[("grant_type", "client_credentials"), ("client_id", "pub")])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;

    let said = add_client(db, &["--client-id", "chosen", "--secret", "my-secret"]);
    assert!(
        !said.contains("my-secret") && !said.contains("client_secret:"),
        "{said}"
    );
    let response = app
        .client_credentials("chosen", Some("my-secret"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.client_credentials("chosen", Some("other"), &[]).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let said = add_client(
        db,
        &[
            "--client-id",
            "poster",
            "--auth-method",
            "client_secret_post",
        ],
    );
    assert!(
        said.contains("token_endpoint_auth_method: client_secret_post\n"),
        "{said}"
    );
    let secret = said
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap();
    let response = app.client_credentials("poster", Some(secret), &[]).await;
    let description =
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(
        description,
        "this client registered token_endpoint_auth_method 'client_secret_post' but \
         authenticated with 'client_secret_basic'"
    );
    let response = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "poster"),
            ("client_secret", secret),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    add_client(
        db,
        &[
            "--public",
            "--client-id",
            "headless",
            "--redirect-uri",
            CALLBACK,
            "--consent",
            "auto",
            "--approve-as",
            "bob",
            "--user",
            "bob",
        ],
    );
    let response = app
        .get_authorize(&app.authorize_params("headless", &[]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND, "no consent page");
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed("headless", &code).await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "bob"
    );

    add_client(
        db,
        &[
            "--public",
            "--client-id",
            "denied",
            "--redirect-uri",
            CALLBACK,
            "--consent",
            "deny",
        ],
    );
    let response = app
        .get_authorize(&app.authorize_params("denied", &[]))
        .await;
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("error"), "access_denied");
    assert_eq!(callback.get("code"), None);

    let said = add_client(
        db,
        &[
            "--client-id",
            "rs",
            "--secret",
            "rs-secret",
            "--introspection",
        ],
    );
    assert!(
        said.ends_with("introspection: every client's tokens\n"),
        "{said}"
    );
    let answer = app.introspect(&caller("rs", "rs-secret"), &pub_token).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], "pub");
    assert_eq!(answer["sub"], "dev");
    // Without --introspection, another client's token is not this client's business.
    let answer = app
        .introspect(&caller("chosen", "my-secret"), &pub_token)
        .await;
    assert_eq!(answer, serde_json::json!({"active": false}));
}

/// Adds, with `tollgate clients add`, a public client `p2` that approves automatically as
/// alice: the command checks --approve-as against the users it is given (--user alice), but
/// the server that later uses the database may declare no such user.
fn add_client_approving_as_alice(database_url: &str) {
    tollgate(&[
        "clients",
        "add",
        "--database-url",
        database_url,
        "--public",
        "--client-id",
        "p2",
        "--redirect-uri",
        CALLBACK,
        "--consent",
        "auto",
        "--approve-as",
        "alice",
        "--user",
        "alice",
    ]);
}

/// Auto consent never approves as a user the server does not declare: the request goes
/// back to the client as `server_error` with a description that names the client and the
/// user, and no code is issued (so no token with `sub: alice` either). A `login_hint` that
/// names a declared user still picks that user, and once the server declares alice the same
/// client works.
async fn auto_consent_never_approves_as_an_undeclared_user(backend: Backend) {
    let db = TestDb::new(backend).await;
    add_client_approving_as_alice(&db.url);
    let app = TestApp::builder(backend).on_db(db.clone()).spawn().await;
    let response = app.get_authorize(&app.authorize_params("p2", &[])).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.get("code"), None, "{:?}", callback.params);
    assert_eq!(callback.one("error"), "server_error");
    assert_eq!(
        callback.one("error_description"),
        "client 'p2' approves automatically as 'alice', but this server declares no user \
         'alice', so it cannot issue a token in that name: declare the user (a [[users]] \
         entry in the configuration, or --user alice), or send a login_hint that names a \
         declared user"
    );
    assert_eq!(callback.one("state"), "st1");
    assert_eq!(callback.one("iss"), app.issuer);
    // Nor does a login_hint naming alice make her a user.
    let response = app
        .get_authorize(&app.authorize_params("p2", &[("login_hint", "alice")]))
        .await;
    assert_eq!(
        Callback::from_response(&response).one("error"),
        "server_error"
    );

    let response = app
        .get_authorize(&app.authorize_params("p2", &[("login_hint", "dev")]))
        .await;
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed("p2", &code).await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "dev"
    );
    app.stop().await;

    let app = TestApp::builder(backend)
        .config(|c| c.users.push(tollgate::config::User::named("alice")))
        .on_db(db)
        .spawn()
        .await;
    let response = app.get_authorize(&app.authorize_params("p2", &[])).await;
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed("p2", &code).await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

/// The global `consent.user` cannot name an undeclared user either: `serve` refuses to start
/// and says why (the client's user is checked at each request instead, since clients added
/// with `clients add` live in the database, not in the configuration).
#[tokio::test]
async fn serve_refuses_an_undeclared_consent_user() {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TOLLGATE_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            "sqlite::memory:",
        ])
        .env("TOLLGATE_CONSENT__MODE", "auto")
        .env("TOLLGATE_CONSENT__USER", "alice")
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("serve started with an undeclared consent.user")
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "tollgate: invalid configuration: consent.user: no user 'alice' is declared (declare \
         it under [[users]], or use 'dev')\n"
    );
}

/// `tollgate serve` warns at start-up about a stored client that approves automatically as
/// a user it does not declare, and is quiet once the user is declared.
async fn serve_warns_about_clients_approving_as_undeclared_users(backend: Backend) {
    let db = TestDb::new(backend).await;
    add_client_approving_as_alice(&db.url);
    let server = ServeProcess::start_with_log(&["--database-url", &db.url], &[]).await;
    let log = server.stop_with_log().await;
    assert!(
        log.contains(
            "client 'p2' approves automatically as 'alice', but this server declares no user \
             'alice': its authorization requests will be refused until the user is declared"
        ),
        "{log}"
    );
    let server =
        ServeProcess::start_with_log(&["--database-url", &db.url, "--user", "alice"], &[]).await;
    let log = server.stop_with_log().await;
    assert!(!log.contains("p2"), "{log}");
}

on_both_backends!(
    auto_consent_never_approves_as_an_undeclared_user,
    serve_warns_about_clients_approving_as_undeclared_users,
    token_command_mints_tokens_the_server_verifies,
    token_command_makes_each_check_defect_alone,
    token_command_signs_as_the_servers_issuer,
    token_command_uses_the_users_claims_and_the_default_resource,
    migrate_then_serve_and_healthcheck,
    clients_command_manages_pre_registered_clients,
    clients_add_options_take_effect,
);
