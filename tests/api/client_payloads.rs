//! What real MCP clients send (issue 15): the registration requests, metadata documents and
//! authorization requests of Claude, ChatGPT, VS Code, Cursor, the MCP Inspector and the
//! official SDKs, kept in `tests/fixtures/clients/*.json` with the public sources they were
//! taken from and what in them is verbatim. Each registers (or is described by its
//! metadata document, served locally under its own path), goes through consent, redeems its
//! code authenticating as it would (none, client_secret_post, client_secret_basic,
//! private_key_jwt) and refreshes, if it registered the refresh grant.

use crate::helpers::keys::{ASSERTION_TYPE, ClientKey};
use crate::helpers::{
    Answer, Backend, CHALLENGE, Callback, DocumentServer, RESOURCE, TestApp, VERIFIER,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tollgate::clock::Clock;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clients");

fn fixture(file: &str) -> Value {
    let path = format!("{FIXTURES}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The client as the server knows it after registration or its document, and how it
/// authenticates at the token endpoint.
struct Registered {
    client_id: String,
    secret: Option<String>,
    method: String,
    /// For a private_key_jwt document client: the key its jwks_uri publishes.
    key: Option<ClientKey>,
}

async fn register(app: &TestApp, site: &DocumentServer, file: &str, fixture: &Value) -> Registered {
    if let Some(body) = fixture.get("registration") {
        let client = app.register_ok(body).await;
        assert_eq!(
            client.body["redirect_uris"], body["redirect_uris"],
            "{file}"
        );
        let method = client.body["token_endpoint_auth_method"]
            .as_str()
            .unwrap()
            .to_owned();
        let uses_secret = method.starts_with("client_secret");
        assert_eq!(
            client.client_secret.is_some(),
            uses_secret,
            "{file}: {method}"
        );
        return Registered {
            client_id: client.client_id,
            secret: client.client_secret,
            method,
            key: None,
        };
    }
    // A metadata document, served under a local URL that becomes its client_id.
    let mut document = fixture["document"].clone();
    let path = format!("clients/{}", file);
    let client_id = site.url(&path);
    document["client_id"] = Value::from(client_id.as_str());
    let mut key = None;
    if document.get("jwks_uri").is_some() {
        let signing = ClientKey::rsa("RS256");
        let jwks_path = format!("clients/keys-{file}");
        site.answer(
            &jwks_path,
            Answer::json(signing.jwks().to_string(), "max-age=60"),
        );
        document["jwks_uri"] = Value::from(site.url(&jwks_path));
        key = Some(signing);
    }
    site.answer(&path, Answer::json(document.to_string(), "max-age=300"));
    Registered {
        client_id,
        secret: None,
        method: document["token_endpoint_auth_method"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        key,
    }
}

/// The parameters the client sends to /authorize: the fixture's, with the test's PKCE
/// challenge and resource.
fn authorization_params(client_id: &str, authorization: &Value) -> Vec<(String, String)> {
    let mut params = vec![
        ("response_type".to_owned(), "code".to_owned()),
        ("client_id".to_owned(), client_id.to_owned()),
        ("code_challenge".to_owned(), CHALLENGE.to_owned()),
        ("code_challenge_method".to_owned(), "S256".to_owned()),
    ];
    for name in ["redirect_uri", "state", "scope", "prompt"] {
        if let Some(value) = authorization.get(name).and_then(Value::as_str) {
            params.push((name.to_owned(), value.to_owned()));
        }
    }
    if authorization["resource"] == true {
        params.push(("resource".to_owned(), RESOURCE.to_owned()));
    }
    params
}

/// A token request authenticated as the client does.
async fn token_request(
    app: &TestApp,
    client: &Registered,
    mut form: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let mut request = app.http.post(app.url("/token"));
    match client.method.as_str() {
        "none" => form.push(("client_id", client.client_id.clone())),
        "client_secret_post" => {
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_secret", client.secret.clone().unwrap()));
        }
        "client_secret_basic" => {
            request = request.basic_auth(&client.client_id, client.secret.as_deref());
        }
        "private_key_jwt" => {
            let key = client.key.as_ref().unwrap();
            let assertion = key.assertion(&client.client_id, &app.url("/token"), app.clock.now());
            form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
            form.push(("client_assertion", assertion));
        }
        other => panic!("no way to authenticate with {other}"),
    }
    request.form(&form).send().await.unwrap()
}

/// The whole flow for one fixture.
async fn run(file: &str, backend: Backend) {
    let fixture = fixture(file);
    let app = TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.timeout = Duration::from_secs(2);
        })
        .spawn()
        .await;
    let site = DocumentServer::start().await;
    let client = register(&app, &site, file, &fixture).await;
    let authorization = &fixture["authorization"];
    let redirect_uri = authorization["redirect_uri"].as_str().unwrap();

    let params = authorization_params(&client.client_id, authorization);
    let form = app.consent_form(&params).await;
    let response = app.decide(&form, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{file}");
    let callback = Callback::from_response(&response);
    let mut names = vec!["code", "iss"];
    if let Some(state) = authorization.get("state").and_then(Value::as_str) {
        assert_eq!(
            callback.one("state"),
            state,
            "{file}: state comes back as sent"
        );
        names.push("state");
    }
    callback.assert_redirects_to(redirect_uri, &names);

    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", callback.one("code")),
        ("code_verifier", VERIFIER.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
    ];
    if authorization["resource"] == true {
        form.push(("resource", RESOURCE.to_owned()));
    }
    let response = token_request(&app, &client, form).await;
    assert_eq!(response.status(), StatusCode::OK, "{file}");
    let tokens: Value = response.json().await.unwrap();
    let claims = app
        .verify_access_token(tokens["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap_or_else(|e| panic!("{file}: {e:?}"));
    assert_eq!(claims["client_id"], client.client_id.as_str(), "{file}");
    let metadata = fixture.get("registration").unwrap_or(&fixture["document"]);
    let refreshes = metadata["grant_types"]
        .as_array()
        .is_some_and(|grants| grants.iter().any(|g| g == "refresh_token"));
    let Some(refresh_token) = tokens["refresh_token"].as_str() else {
        // ChatGPT's document declares no grant_types: RFC 7591's default is the code grant
        // alone, so it gets no refresh token and authorizes again when its token expires.
        assert!(
            !refreshes,
            "{file}: it registered refresh_token but got none"
        );
        return;
    };
    assert!(
        refreshes,
        "{file}: a refresh token for a client without the grant"
    );
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
    ];
    let response = token_request(&app, &client, form).await;
    assert_eq!(response.status(), StatusCode::OK, "{file}: refresh");
}

macro_rules! fixtures {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            async fn $name(backend: Backend) {
                run($file, backend).await
            }
        )*
        /// Every fixture some test runs.
        const RUN: &[&str] = &[$($file),*];
        on_both_backends!($($name),*);
    };
}

fixtures!(
    claude_web_registers_with_client_secret_post => "claude-web-dcr.json",
    claude_web_2025_registers_as_a_public_client => "claude-web-dcr-2025-06.json",
    claude_web_document_declares_the_jwt_bearer_grant => "claude-web-cimd.json",
    claude_code_document_with_a_portless_loopback_uri => "claude-code-cimd.json",
    claude_code_registers_a_loopback_uri => "claude-code-dcr.json",
    claude_desktop_through_mcp_remote => "claude-desktop-mcp-remote.json",
    chatgpt_document_with_private_key_jwt => "chatgpt-cimd.json",
    vscode_registers_web_and_loopback_uris => "vscode-dcr.json",
    vscode_document_declares_the_device_grant => "vscode-cimd.json",
    cursor_registers_its_cursor_scheme => "cursor.json",
    cursor_2025_registers_a_per_server_cursor_uri => "cursor-2025.json",
    mcp_inspector_v1 => "mcp-inspector-v1.json",
    mcp_inspector_v2_registers_an_empty_scope => "mcp-inspector-v2.json",
    typescript_sdk_v1_with_client_secret_post => "typescript-sdk-v1.json",
    typescript_sdk_v2_native_with_client_secret_post => "typescript-sdk-v2.json",
    python_sdk_gets_client_secret_basic_by_default => "python-sdk.json",
    rust_sdk_rmcp => "rust-sdk-rmcp.json",
);

/// Every fixture in the folder is run by a test above, and says where it comes from.
#[test]
fn every_fixture_is_run_and_cites_its_sources() {
    let mut files: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    let mut run: Vec<&str> = RUN.to_vec();
    run.sort_unstable();
    assert_eq!(
        files, run,
        "a fixture without a test, or a test without its fixture"
    );
    for file in &files {
        let fixture = fixture(file);
        for member in ["client", "version", "provenance"] {
            assert!(
                fixture[member].as_str().is_some_and(|s| !s.is_empty()),
                "{file}: {member}"
            );
        }
        assert!(
            fixture["sources"].as_array().is_some_and(|s| !s.is_empty()),
            "{file}: sources"
        );
        assert!(
            fixture.get("registration").is_some() != fixture.get("document").is_some(),
            "{file}: a registration or a document"
        );
    }
}
