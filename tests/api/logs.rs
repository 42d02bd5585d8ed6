//! The server log: one line per request, and never a secret or a token value (issue 11).

use crate::helpers::*;
use serde_json::{Value, json};

/// A whole flow against a `tollgate serve` process that logs everything it can (`trace`),
/// then every secret and token value the flow used or was given is looked for in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_of_a_full_flow_holds_no_secret() {
    let db = TestDb::new(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        r#"
[[users]]
subject = "alice"
password = "alice-password-9f3k"

[[clients]]
client_id = "declared-rs"
secret = "declared-secret-7h2m"
introspection = true
"#,
    )
    .unwrap();
    let process = ServeProcess::start_with_log(
        &[
            "--config",
            file.to_str().unwrap(),
            "--database-url",
            &db.url,
        ],
        &[("RUST_LOG", "tollgate=trace")],
    )
    .await;
    let app = TestApp::attached(&process, db);

    let client = app.confidential_client("client_secret_basic").await;
    let secret = client.client_secret.clone().unwrap();
    let registration_token = client.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let approved = app
        .approve_with_password(&form, "alice", "alice-password-9f3k")
        .await;
    let code = Callback::from_response(&approved).one("code");
    let redeemed: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = redeemed["access_token"].as_str().unwrap().to_owned();
    let refresh = redeemed["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second_access = refreshed["access_token"].as_str().unwrap().to_owned();
    let second_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    // A reuse, an introspection by the declared resource server, a revocation and an RFC
    // 7592 read, so that their paths log too.
    let reused = app
        .http
        .post(app.url("/token"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(reused, reqwest::StatusCode::BAD_REQUEST, "invalid_grant").await;
    let declared = RegisteredClient {
        client_id: "declared-rs".to_owned(),
        client_secret: Some("declared-secret-7h2m".to_owned()),
        body: Value::Null,
    };
    assert_eq!(
        app.introspect(&declared, &second_access).await["active"],
        json!(false)
    );
    let revoked = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(&client.client_id, Some(&secret))
        .form(&[("token", second_refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), reqwest::StatusCode::OK);
    let (uri, _) = client.management();
    let read = app.read_client(&uri, &registration_token).await;
    assert_eq!(read.status(), reqwest::StatusCode::OK);

    let log = process.stop_with_log().await;
    // The log is there and has one line per request, with method, route, status, latency.
    let responses: Vec<&str> = log.lines().filter(|l| l.contains(" response ")).collect();
    assert!(
        responses
            .iter()
            .any(|l| l.contains(r#"method=POST route="/token""#)
                && l.contains("status=200")
                && l.contains("latency_ms=")),
        "{log}"
    );
    // Nine requests: registration, consent page, decision, three token requests,
    // introspection, revocation, the RFC 7592 read.
    assert_eq!(responses.len(), 9, "one response line per request:\n{log}");
    for (what, value) in [
        ("the client secret", secret.as_str()),
        ("the declared client's secret", "declared-secret-7h2m"),
        ("the user's password", "alice-password-9f3k"),
        ("the registration access token", &registration_token),
        ("the CSRF token", &form.csrf_token),
        ("the authorization code", &code),
        ("the PKCE verifier", VERIFIER),
        ("the access token", &access),
        ("the second access token", &second_access),
        ("the refresh token", &refresh),
        ("the second refresh token", &second_refresh),
    ] {
        assert!(!log.contains(value), "{what} is in the log:\n{log}");
    }
}
