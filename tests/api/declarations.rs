//! The configuration file as a seed: declared users and clients, headless consent,
//! passwords, extra claims, idempotent application.

use crate::helpers::{
    Backend, CALLBACK, Callback, RESOURCE, TestApp, TestDb, assert_error_page, assert_oauth_error,
    checked_user, hidden_field, jwt_payload, run_tollgate_with_input,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use tollgate::services::declarations::Applied;
use tollgate::store::Store;

fn example_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tollgate.example.toml")
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("tollgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The repository's example file is valid and does what its comments say.
async fn the_example_file_works(backend: Backend) {
    let app = TestApp::builder(backend)
        .config_file(&example_file())
        .spawn()
        .await;
    let metadata = app.metadata().await;
    assert_eq!(
        metadata["scopes_supported"],
        json!(["mcp:tools", "mcp:admin"])
    );

    // ci-pipeline: client_credentials with its chosen (argon2-hashed) secret, its scopes only.
    let secret = Some("change-me-in-ci");
    let response = app
        .client_credentials("ci-pipeline", secret, &[("scope", "mcp:tools")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "ci-pipeline");
    assert_eq!(
        claims["aud"], "http://127.0.0.1:8000/mcp",
        "the default resource"
    );
    let response = app
        .client_credentials("ci-pipeline", secret, &[("scope", "mcp:admin")])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // headless-agent: auto consent as bob, no page.
    let response = app
        .get_authorize(&app.authorize_params("headless-agent", &[]))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "no consent page in auto mode"
    );
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("state"), "st1");
    let body = app.redeemed("headless-agent", &callback.one("code")).await;
    let agent_token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(agent_token)["sub"], "bob");

    // mcp-server (introspection = true) sees the agent's token; ci-pipeline does not.
    for (caller, secret, active) in [
        ("mcp-server", "change-me-too", true),
        ("ci-pipeline", "change-me-in-ci", false),
    ] {
        let caller = crate::helpers::RegisteredClient {
            client_id: caller.to_owned(),
            client_secret: Some(secret.to_owned()),
            body: Value::Null,
        };
        let answer = app.introspect(&caller, agent_token).await;
        assert_eq!(answer["active"], active, "{}", caller.client_id);
    }

    // login_hint picks the user, and alice's extra claims go into her token.
    let response = app
        .get_authorize(&app.authorize_params("headless-agent", &[("login_hint", "alice")]))
        .await;
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed("headless-agent", &code).await;
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"], json!(["admins"]));

    // A login_hint that names no user is ignored: the client's configured user (bob).
    let response = app
        .get_authorize(&app.authorize_params("headless-agent", &[("login_hint", "mallory")]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed("headless-agent", &code).await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "bob"
    );

    // always-denied: access_denied at once.
    let response = app
        .get_authorize(&app.authorize_params("always-denied", &[]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        Callback::from_response(&response).one("error"),
        "access_denied"
    );
}

/// Users with a password must give it on the consent page; a wrong one leaves the form
/// usable for another try.
async fn passwords_are_asked_on_the_consent_page(backend: Backend) {
    let app = TestApp::builder(backend)
        .config_file(&example_file())
        .spawn()
        .await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("login_hint", "alice")]))
        .await;
    assert!(form.html.contains(r#"type="password""#));
    assert_eq!(
        checked_user(&form.html).as_deref(),
        Some("alice"),
        "login_hint preselects alice"
    );
    // A wrong password shows the same form again, with the message inline.
    let wrong = app.approve_with_password(&form, "alice", "guess").await;
    let page = assert_error_page(wrong, StatusCode::FORBIDDEN).await;
    assert!(
        page.contains("wrong password for &#39;alice&#39;"),
        "{page}"
    );
    assert!(page.contains(r#"role="alert""#), "{page}");
    assert_eq!(hidden_field(&page, "request_id"), form.request_id);
    assert_eq!(hidden_field(&page, "csrf_token"), form.csrf_token);
    assert_eq!(checked_user(&page).as_deref(), Some("alice"));
    let right = app
        .approve_with_password(&form, "alice", "wonderland")
        .await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    // Users without a password (bob) need none. Without login_hint the page selects the
    // example file's [consent] user, alice.
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(checked_user(&form.html).as_deref(), Some("alice"));
    assert_eq!(
        app.decide(&form, "approve", "bob").await.status(),
        StatusCode::SEE_OTHER
    );
}

/// prompt=none succeeds only where no interaction is needed.
async fn prompt_none_depends_on_the_consent_mode(backend: Backend) {
    let app = TestApp::builder(backend)
        .config_file(&example_file())
        .spawn()
        .await;
    let response = app
        .get_authorize(&app.authorize_params("headless-agent", &[("prompt", "none")]))
        .await;
    assert!(Callback::from_response(&response).get("code").is_some());
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(
        Callback::from_response(&response).one("error"),
        "interaction_required"
    );
}

/// What the database holds for a client, to show that a start rewrote nothing.
#[derive(Debug, PartialEq)]
struct Stored {
    secret_digest: Option<String>,
    metadata: Value,
    /// Consent mode, user and allowed scopes.
    policy: Value,
    created_at: i64,
}

async fn stored(db: &TestDb, client_id: &str) -> Stored {
    let store = Store::connect(&db.url).await.unwrap();
    let client = store.client(client_id).await.unwrap().unwrap();
    store.close().await;
    Stored {
        secret_digest: client.secret_digest,
        metadata: serde_json::to_value(&client.metadata).unwrap(),
        policy: serde_json::to_value(&client.policy).unwrap(),
        created_at: client.created_at,
    }
}

/// Applying the file is idempotent: the same file again rewrites nothing (a re-hashed
/// secret would show as a new argon2 salt; the policy, its consent, user and scopes, is
/// compared too) and a declared client's grants survive; an edit updates and removes
/// declared clients and leaves clients registered dynamically or with `tollgate clients
/// add` alone.
async fn applying_the_file_is_idempotent(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend).await;
    let first = r#"
users = ["bob"]
[[clients]]
client_id = "kept"
secret = "one"
scopes = ["mcp:tools"]
consent = "deny"
user = "bob"
[[clients]]
client_id = "agent"
redirect_uris = ["http://127.0.0.1:53682/callback"]
consent = "prompt"
user = "bob"
[[clients]]
client_id = "dropped"
redirect_uris = ["http://127.0.0.1:53682/callback"]
"#;
    let path = write(&dir, first);
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    let dynamic = app.public_client().await;
    let tokens = app.tokens(&dynamic.client_id).await;
    let agent_tokens = app.tokens("agent").await;
    crate::helpers::tollgate(&[
        "clients",
        "add",
        "--database-url",
        &db.url,
        "--client-id",
        "cli-job",
        "--secret",
        "cli-secret",
        "--scope",
        "mcp:tools",
    ]);
    app.stop().await;
    let before = [
        stored(&db, "kept").await,
        stored(&db, "agent").await,
        stored(&db, "dropped").await,
        stored(&db, "cli-job").await,
    ];
    assert_eq!(
        before[0].policy,
        json!({"allowed_scopes": ["mcp:tools"], "consent": "deny", "user": "bob"})
    );

    // Same file: nothing changes.
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    let response = app.client_credentials("kept", Some("one"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed = app
        .refresh(
            "agent",
            agent_tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the declared client's grant survived the restart"
    );
    let agent_tokens: Value = refreshed.json().await.unwrap();
    app.stop().await;
    let after = [
        stored(&db, "kept").await,
        stored(&db, "agent").await,
        stored(&db, "dropped").await,
        stored(&db, "cli-job").await,
    ];
    assert_eq!(after, before, "a start with the same file rewrote a client");
    // And applying it once more, as a start does, counts nothing written or removed.
    let store = Store::connect(&db.url).await.unwrap();
    let config = tollgate::Config::from_file(&path).unwrap();
    let (applied, check) = tollgate::services::declarations::apply(&store, &config, 0)
        .await
        .unwrap();
    assert_eq!(applied, Applied::default());
    assert_eq!(check.run(&store).await.unwrap(), 0, "no secret changed");
    store.close().await;

    // Edited: a new secret and policy, one client gone.
    let path = write(
        &dir,
        r#"
users = ["bob"]
[[clients]]
client_id = "kept"
secret = "two"
scopes = ["mcp:admin"]
[[clients]]
client_id = "agent"
redirect_uris = ["http://127.0.0.1:53682/callback"]
consent = "prompt"
user = "bob"
"#,
    );
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    assert_eq!(
        stored(&db, "kept").await.policy,
        json!({"allowed_scopes": ["mcp:admin"]})
    );
    assert_eq!(stored(&db, "agent").await, before[1]);
    // The client added with `tollgate clients add` is the file's no more than a
    // dynamically registered one: untouched, and it still works.
    assert_eq!(stored(&db, "cli-job").await, before[3]);
    let response = app
        .client_credentials("cli-job", Some("cli-secret"), &[("scope", "mcp:tools")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let old_secret = app.client_credentials("kept", Some("one"), &[]).await;
    assert_oauth_error(old_secret, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let new_secret = app.client_credentials("kept", Some("two"), &[]).await;
    assert_eq!(new_secret.status(), StatusCode::OK);
    let gone = app
        .get_authorize(&app.authorize_params("dropped", &[]))
        .await;
    let page = assert_error_page(gone, StatusCode::BAD_REQUEST).await;
    assert!(
        page.contains("no client with client_id &#39;dropped&#39;"),
        "{page}"
    );
    // The unchanged declared client, the dynamically registered one and their grants are
    // untouched.
    let refreshed = app
        .refresh(
            "agent",
            agent_tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = app
        .refresh(
            &dynamic.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

/// Start-up does not wait for argon2 (the readiness budget is a few milliseconds): a stored
/// hash of a declared secret is checked against the file in the background, and until the
/// check is done, authentication of that client waits for it rather than use a stale hash.
async fn declared_secrets_are_checked_after_start_up(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend).await;
    let path = write(
        &dir,
        "[[clients]]\nclient_id = \"ci\"\nsecret = \"s3cret\"\n",
    );
    TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await
        .stop()
        .await;
    // A stored hash that takes about a second to verify (argon2 with t=60), and does not
    // match: as if the file's secret had been edited.
    let slow = "$argon2id$v=19$m=19456,t=60,p=1$c2FsdHNhbHRzYWx0c2FsdA$\
                AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let store = Store::connect(&db.url).await.unwrap();
    let current = stored(&db, "ci").await.secret_digest;
    assert!(
        store
            .replace_declared_secret("ci", &current.unwrap(), slow)
            .await
            .unwrap()
    );

    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    let right_after_start = stored(&db, "ci").await.secret_digest;
    assert_eq!(
        right_after_start.as_deref(),
        Some(slow),
        "start-up verified the stored hash before it was ready"
    );
    assert_eq!(app.metadata().await["issuer"], app.issuer);
    // The request waits for the check, which replaces the hash, then succeeds.
    let response = app.client_credentials("ci", Some("s3cret"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rewritten = stored(&db, "ci").await.secret_digest;
    let rewritten = rewritten.unwrap();
    assert!(rewritten.starts_with("$argon2id$") && rewritten != slow);
    store.close().await;
}

/// `tollgate hash-secret` makes the argon2 PHC strings that `secret_hash` and
/// `password_hash` take, and a file with them works like one with the secrets in clear.
async fn hashed_secrets_and_passwords_in_the_file(backend: Backend) {
    let hash = |secret: &str| {
        let output = run_tollgate_with_input(&["hash-secret"], &[], secret);
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    // A trailing newline (echo without -n) is not part of the secret.
    let secret_hash = hash("s3cret\n");
    let password_hash = hash("wonderland");
    assert!(secret_hash.starts_with("$argon2id$"), "{secret_hash}");
    let empty = run_tollgate_with_input(&["hash-secret"], &[], "");
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("standard input"));

    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        &format!(
            r#"
[[users]]
subject = "alice"
password_hash = "{password_hash}"

[[clients]]
client_id = "ci"
secret_hash = "{secret_hash}"
"#
        ),
    );
    let app = TestApp::builder(backend).config_file(&path).spawn().await;
    let response = app.client_credentials("ci", Some("s3cret"), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.client_credentials("ci", Some("s3cret\n"), &[]).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[("login_hint", "alice")]))
        .await;
    assert!(form.html.contains(r#"type="password""#));
    assert_eq!(
        app.approve_with_password(&form, "alice", "guess")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.approve_with_password(&form, "alice", "wonderland")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

/// Editing a declared client's redirect URIs, scopes and consent mode takes effect at the
/// next start (AZ-3: the old redirect URI is refused).
async fn edits_to_a_declared_client_apply_on_restart(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend).await;
    let path = write(
        &dir,
        r#"
[[clients]]
client_id = "agent"
redirect_uris = ["http://127.0.0.1:53682/callback"]
scopes = ["mcp:tools"]
"#,
    );
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    // The consent page (prompt mode), for the scope it may ask for.
    app.consent_form(&app.authorize_params("agent", &[])).await;
    let response = app
        .get_authorize(&app.authorize_params("agent", &[("scope", "mcp:admin")]))
        .await;
    assert_eq!(
        Callback::from_response(&response).one("error"),
        "invalid_scope"
    );
    app.stop().await;

    let other = "http://127.0.0.1:53682/other";
    let path = write(
        &dir,
        &format!(
            r#"
[[clients]]
client_id = "agent"
redirect_uris = ["{other}"]
scopes = ["mcp:admin"]
consent = "auto"
"#
        ),
    );
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db)
        .spawn()
        .await;
    let old_uri = app
        .get_authorize(&app.authorize_params("agent", &[("scope", "mcp:admin")]))
        .await;
    let page = assert_error_page(old_uri, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("is not registered for this client"), "{page}");
    let params = [("redirect_uri", other), ("scope", "mcp:admin")];
    let response = app
        .get_authorize(&app.authorize_params("agent", &params))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND, "auto consent now");
    let callback = Callback::from_response(&response);
    assert_eq!(callback.url.path(), "/other");
    assert!(callback.get("code").is_some());
    let params = [("redirect_uri", other), ("scope", "mcp:tools")];
    let response = app
        .get_authorize(&app.authorize_params("agent", &params))
        .await;
    assert_eq!(
        Callback::from_response(&response).one("error"),
        "invalid_scope"
    );
}

/// A client's consent mode overrides the server's; the server's applies to dynamic clients.
async fn the_global_consent_mode_applies_to_registered_clients(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.consent.mode = tollgate::config::ConsentMode::Auto)
        .spawn()
        .await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = Callback::from_response(&response).one("code");
    let response = app
        .exchange(&client.client_id, &code, &[("redirect_uri", CALLBACK)])
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "dev"
    );
}

/// `consent.mode = "deny"` refuses every authorization at once with `access_denied` sent back
/// to the client (with `state` and `iss`, and no code), for dynamically registered clients
/// too; a client's own mode overrides it.
async fn the_global_deny_mode_refuses_at_once(backend: Backend) {
    let mut prompted = tollgate::config::DeclaredClient::public("prompted", &[CALLBACK]);
    prompted.consent = Some(tollgate::config::ConsentMode::Prompt);
    let app = TestApp::builder(backend)
        .config(|c| {
            c.consent.mode = tollgate::config::ConsentMode::Deny;
            c.clients.push(prompted);
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("prompt", "none")]))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.url.as_str().split('?').next(), Some(CALLBACK));
    let params: Vec<(&str, &str)> = callback
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // RFC 6749 §4.1.2.1 error_uri: the refusal's event in the console.
    let error_uri = callback.one("error_uri");
    assert!(
        error_uri.starts_with(&format!("{}/_tollgate/events/", app.issuer)),
        "{error_uri}"
    );
    assert_eq!(
        params,
        [
            ("error", "access_denied"),
            (
                "error_description",
                "denied without asking: this server's consent mode for the client is 'deny'"
            ),
            ("error_uri", error_uri.as_str()),
            ("state", "st1"),
            ("iss", app.issuer.as_str()),
        ]
    );
    // The client's own mode wins: the consent page.
    let form = app
        .consent_form(&app.authorize_params("prompted", &[]))
        .await;
    assert!(form.html.contains("prompted"), "{}", form.html);
}

/// The file of `edits_reach_refresh_tokens`: `users`, the agent's allowed `scopes`, and the
/// resource URL vary.
fn refresh_file(users: &str, scopes: &str, resource: &str) -> String {
    format!(
        r#"
users = [{users}]

[[resources]]
url = "{resource}"
scopes = ["mcp:tools", "mcp:admin"]

[[clients]]
client_id = "agent"
redirect_uris = ["{CALLBACK}"]
scopes = [{scopes}]
"#
    )
}

/// Editing the file reaches grants made before the edit: a refresh issues only what the
/// file still allows (a removed user's grant is revoked, a withdrawn scope is dropped, a
/// removed resource is refused), as consent would today.
async fn edits_reach_refresh_tokens(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend).await;
    let both = r#""mcp:tools", "mcp:admin""#;
    let path = write(&dir, &refresh_file(r#""alice", "bob""#, both, RESOURCE));
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    let scope = [("scope", "mcp:tools mcp:admin offline_access")];
    let mut refresh_tokens = Vec::new();
    for user in ["alice", "alice", "bob"] {
        let form = app
            .consent_form(&app.authorize_params("agent", &scope))
            .await;
        let code = Callback::from_response(&app.decide(&form, "approve", user).await).one("code");
        let tokens = app.redeemed("agent", &code).await;
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    app.stop().await;

    // Bob leaves; the agent may no longer ask for mcp:admin.
    write(
        &dir,
        &refresh_file(r#""alice""#, r#""mcp:tools""#, RESOURCE),
    );
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db.clone())
        .spawn()
        .await;
    let response = app.refresh("agent", &refresh_tokens[0], &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "mcp:tools offline_access");
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["scope"],
        "mcp:tools"
    );
    let response = app
        .refresh("agent", &refresh_tokens[1], &[("scope", "mcp:admin")])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let response = app.refresh("agent", &refresh_tokens[2], &[]).await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        description.contains("'bob' no longer exists"),
        "{description}"
    );
    app.stop().await;

    // The resource moves: the grant's audience is no longer one this server serves.
    let moved = "http://127.0.0.1:8000/elsewhere";
    write(&dir, &refresh_file(r#""alice""#, both, moved));
    let app = TestApp::builder(backend)
        .config_file(&path)
        .on_db(db)
        .spawn()
        .await;
    let response = app.refresh("agent", &refresh_tokens[1], &[]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_target").await;
}

on_both_backends!(
    edits_reach_refresh_tokens,
    the_example_file_works,
    passwords_are_asked_on_the_consent_page,
    prompt_none_depends_on_the_consent_mode,
    applying_the_file_is_idempotent,
    declared_secrets_are_checked_after_start_up,
    hashed_secrets_and_passwords_in_the_file,
    edits_to_a_declared_client_apply_on_restart,
    the_global_consent_mode_applies_to_registered_clients,
    the_global_deny_mode_refuses_at_once,
);
