//! The `testing` fixture, used only through the public API, the way another crate's tests
//! would use it, with the `oauth2` crate as the client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    RefreshToken, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;
use tollgate::config::DeclaredClient;
use tollgate::testing::{TestServer, VerifyError};

const CALLBACK: &str = "http://127.0.0.1:53682/callback";
const MCP: &str = "http://127.0.0.1:3000/mcp";

/// oauth2's HTTP client trait, served by reqwest (no redirects: an authorization server
/// answers the token endpoint directly).
async fn http(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut outgoing = client
        .request(request.method().clone(), request.uri().to_string())
        .body(request.body().clone());
    for (name, value) in request.headers() {
        outgoing = outgoing.header(name, value);
    }
    let response = outgoing.send().await?;
    let mut incoming = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        incoming = incoming.header(name, value);
    }
    Ok(incoming.body(response.bytes().await?.to_vec()).unwrap())
}

/// Opens an authorization URL as a browser would and returns the query of the redirect back
/// to the client, which a headless consent mode sends at once.
async fn redirected_query(url: &url::Url) -> Vec<(String, String)> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().into_owned().collect()
}

/// A headless authorization-code flow with PKCE and a resource indicator, then a refresh.
#[tokio::test]
async fn the_oauth2_crate_completes_a_headless_code_flow() {
    let server = TestServer::builder()
        .user("alice")
        .client(DeclaredClient::public("test-client", &[CALLBACK]))
        .resource(MCP, &["mcp:tools"])
        .auto_approve("alice")
        .spawn()
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new("test-client".to_owned()))
        .set_auth_uri(AuthUrl::new(server.authorization_url()).unwrap())
        .set_token_uri(TokenUrl::new(server.token_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("mcp:tools".to_owned()))
        .add_extra_param("resource", MCP)
        .set_pkce_challenge(challenge)
        .url();

    // Auto approval: the authorization endpoint redirects straight back with a code.
    let query: std::collections::HashMap<_, _> = redirected_query(&url).await.into_iter().collect();
    assert_eq!(query["state"], *state.secret());
    assert_eq!(query["iss"], server.issuer());

    let tokens = client
        .exchange_code(AuthorizationCode::new(query["code"].clone()))
        .set_pkce_verifier(verifier)
        .add_extra_param("resource", MCP)
        .request_async(&http)
        .await
        .unwrap();
    let claims = server
        .verify_access_token(tokens.access_token().secret(), MCP)
        .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["scope"], "mcp:tools");

    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
}

/// `deny_all()`: the authorization endpoint refuses at once, sending `access_denied` back to
/// the client, as a client's error path expects.
#[tokio::test]
async fn deny_all_refuses_every_authorization() {
    let server = TestServer::builder()
        .client(DeclaredClient::public("test-client", &[CALLBACK]))
        .deny_all()
        .spawn()
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new("test-client".to_owned()))
        .set_auth_uri(AuthUrl::new(server.authorization_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(CALLBACK.to_owned()).unwrap());
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();
    let query = redirected_query(&url).await;
    // The refusal's event in the developer console (RFC 6749 §4.1.2.1 error_uri).
    let error_uri = query
        .iter()
        .find(|(k, _)| k == "error_uri")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        error_uri.starts_with(&format!("{}/_tollgate/events/", server.issuer())),
        "{query:?}"
    );
    let expected = [
        ("error", "access_denied"),
        (
            "error_description",
            "denied without asking: this server's consent mode for the client is 'deny'",
        ),
        ("error_uri", error_uri.as_str()),
        ("state", state.secret().as_str()),
        ("iss", server.issuer()),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(query, expected);
}

/// client_credentials for a declared confidential client.
#[tokio::test]
async fn the_oauth2_crate_gets_a_machine_token() {
    let server = TestServer::builder()
        .client(DeclaredClient::confidential("robot", "robot-secret"))
        .spawn()
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new("robot".to_owned()))
        .set_client_secret(ClientSecret::new("robot-secret".to_owned()))
        .set_token_uri(TokenUrl::new(server.token_url()).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_extra_param("resource", MCP)
        .request_async(&http)
        .await
        .unwrap();
    let claims = server
        .verify_access_token(token.access_token().secret(), MCP)
        .unwrap();
    assert_eq!(claims["sub"], "robot");
}

/// Tokens without a flow, and the metadata an MCP server would publish.
#[tokio::test]
async fn mint_tokens_and_protected_resource_metadata() {
    let server = TestServer::builder().spawn().await.unwrap();
    let token = server
        .mint_access_token("bob", MCP, "mcp:tools mcp:admin")
        .await
        .unwrap();
    let claims = server.verify_access_token(&token, MCP).unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["scope"], "mcp:tools mcp:admin");
    // The JWKS the fixture returns is the one the server serves.
    let served: Value = reqwest::get(server.jwks_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, server.jwks());
    let metadata = server.protected_resource_metadata(MCP, &["mcp:tools"]);
    assert_eq!(metadata["resource"], MCP);
    assert_eq!(metadata["authorization_servers"][0], server.issuer());
    let discovery: Value = reqwest::get(server.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], server.issuer());
}

/// Several fixtures at once: different issuers, different keys, no interference; dropping
/// one stops only it.
#[tokio::test]
async fn several_fixtures_run_side_by_side() {
    let (a, b) = tokio::join!(TestServer::builder().spawn(), TestServer::builder().spawn());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.issuer(), b.issuer());
    assert_ne!(a.jwks(), b.jwks());
    let token = a.mint_access_token("dev", MCP, "").await.unwrap();
    a.verify_access_token(&token, MCP).unwrap();
    assert!(
        matches!(
            b.verify_access_token(&token, MCP),
            Err(VerifyError::UnknownKey(Some(_)))
        ),
        "b does not know a's key"
    );
    let b_metadata = b.metadata_url();
    drop(b);
    assert_eq!(
        reqwest::get(a.metadata_url()).await.unwrap().status(),
        reqwest::StatusCode::OK
    );
    // The dropped server stops accepting connections (shutdown is asynchronous: poll).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while reqwest::get(&b_metadata).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dropped server still answers"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The options Tollgate's own tests need, through the public API: a database that
/// outlives the server, a clock the test moves, an issuer with a path and a listener the
/// caller bound; `verify_access_token` judges expiry by the server's clock.
#[tokio::test]
async fn a_fixture_on_a_database_a_clock_an_issuer_path_and_a_listener() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
    let clock = tollgate::clock::ManualClock::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = TestServer::builder()
        .database_url(&database_url)
        .clock(clock.clone())
        .issuer_path("/tenant-1")
        .listener(listener)
        .access_token_ttl(std::time::Duration::from_secs(60))
        .spawn()
        .await
        .unwrap();
    assert_eq!(server.addr(), addr);
    assert_eq!(server.issuer(), format!("http://{addr}/tenant-1"));
    let token = server.mint_access_token("alice", MCP, "").await.unwrap();
    let claims = server.verify_access_token(&token, MCP).unwrap();
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(
        server.verify_access_token(&token, "http://127.0.0.1:3000/other"),
        Err(VerifyError::WrongAudience)
    );
    // The verifier that takes a JWKS and an issuer agrees, and refuses another issuer.
    tollgate::testing::verify_access_token(&server.jwks(), server.issuer(), &token, MCP).unwrap();
    assert_eq!(
        tollgate::testing::verify_access_token(&server.jwks(), "http://elsewhere", &token, MCP),
        Err(VerifyError::WrongIssuer)
    );
    clock.advance(60);
    assert_eq!(
        server.verify_access_token(&token, MCP),
        Err(VerifyError::Expired),
        "expired by the server's clock, not the system's"
    );
    let jwks = server.jwks();
    server.stop().await.unwrap();

    // The data stayed in the database: a server started on it again has the same key.
    let again = TestServer::builder()
        .database_url(&database_url)
        .spawn()
        .await
        .unwrap();
    assert_eq!(again.jwks(), jwks);
}

/// Approves a device authorization on the verification page, as its user would in a browser:
/// open `verification_uri_complete`, check the code shown, approve as `user`.
async fn approve_on_the_page(verification_uri_complete: &str, user_code: &str, user: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let page = browser.get(verification_uri_complete).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(user_code),
        "the page shows the code to compare"
    );
    let hidden = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let start = html.find(&marker).unwrap() + marker.len();
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    };
    let action = verification_uri_complete.split('?').next().unwrap();
    let decided = browser
        .post(action)
        .form(&[
            ("user_code", hidden("user_code")),
            ("csrf_token", hidden("csrf_token")),
            ("decision", "approve".to_owned()),
            ("user", user.to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), reqwest::StatusCode::OK);
}

/// OPT-4: the `oauth2` crate's device flow client (RFC 8628) against the fixture: it asks for
/// codes with a resource indicator, polls (pending while nobody has approved), and gets
/// tokens once the user approves on the verification page; then it refreshes.
#[tokio::test]
async fn opt_4_the_oauth2_crate_completes_a_device_flow() {
    use oauth2::{DeviceAuthorizationUrl, StandardDeviceAuthorizationResponse};
    let mut cli = DeclaredClient::public("cli", &[]);
    cli.grant_types = vec![
        "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
        "refresh_token".to_owned(),
    ];
    let server = TestServer::builder()
        .user("alice")
        .client(cli)
        .resource(MCP, &["mcp:tools"])
        // One second between polls, so that the test does not wait the default five.
        .config(|c| c.device.interval = std::time::Duration::from_secs(1))
        .spawn()
        .await
        .unwrap();
    let metadata: Value = reqwest::get(server.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new("cli".to_owned()))
        .set_token_uri(TokenUrl::new(server.token_url()).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(
                metadata["device_authorization_endpoint"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .unwrap(),
        );
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("mcp:tools".to_owned()))
        .add_extra_param("resource", MCP)
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(details.interval(), std::time::Duration::from_secs(1));
    let user_code = details.user_code().secret().clone();
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    // The user approves a little later, while the device polls.
    let approval = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        approve_on_the_page(&complete, &user_code, "alice").await;
    });
    let tokens = client
        .exchange_device_access_token(&details)
        .request_async(
            &http,
            tokio::time::sleep,
            Some(std::time::Duration::from_secs(30)),
        )
        .await
        .unwrap();
    approval.await.unwrap();
    let claims = server
        .verify_access_token(tokens.access_token().secret(), MCP)
        .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "mcp:tools");
    let refresh = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .unwrap();
    assert!(
        server
            .verify_access_token(refreshed.access_token().secret(), MCP)
            .is_ok()
    );
}

/// The control operations on the fixture (issue 14), the same as the control API: faults
/// declared on the builder and added at run time, the clock moved, tokens revoked and
/// expired, the key rotated, a reset.
#[tokio::test]
async fn the_fixture_controls_the_server_and_injects_faults() {
    use std::time::Duration;
    use tollgate::testing::{FaultSpec, TokenOwner};
    let server = TestServer::builder()
        .client(DeclaredClient::confidential("robot", "robot-secret"))
        .fault(FaultSpec {
            name: Some("down once".to_owned()),
            endpoint: "token".to_owned(),
            status: Some(503),
            times: Some(1),
            ..FaultSpec::default()
        })
        .spawn()
        .await
        .unwrap();
    let client = BasicClient::new(ClientId::new("robot".to_owned()))
        .set_client_secret(ClientSecret::new("robot-secret".to_owned()))
        .set_token_uri(TokenUrl::new(server.token_url()).unwrap());
    let machine_token = || async {
        client
            .exchange_client_credentials()
            .add_extra_param("resource", MCP)
            .request_async(&http)
            .await
    };
    let refused = machine_token().await.unwrap_err();
    assert!(
        refused.to_string().contains("temporarily_unavailable")
            || matches!(
                refused,
                oauth2::RequestTokenError::ServerResponse(ref r)
                    if r.error().as_ref() == "temporarily_unavailable"
            ),
        "{refused:?}"
    );
    let token = machine_token().await.unwrap();
    let faults = server.faults();
    assert_eq!((faults[0].seen, faults[0].fired), (2, 1));

    let wrong_aud = server
        .add_fault(&FaultSpec {
            endpoint: "token".to_owned(),
            lie: Some("wrong_audience".to_owned()),
            ..FaultSpec::default()
        })
        .unwrap();
    assert_eq!(wrong_aud.fault.name, "token-1");
    let lied = machine_token().await.unwrap();
    assert!(matches!(
        server.verify_access_token(lied.access_token().secret(), MCP),
        Err(VerifyError::WrongAudience)
    ));
    assert!(server.remove_fault("token-1"));
    assert_eq!(server.clear_faults(), 1);
    let refused = server.add_fault(&FaultSpec {
        endpoint: "nowhere".to_owned(),
        drop: true,
        ..FaultSpec::default()
    });
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .starts_with("endpoint: 'nowhere' is not an endpoint")
    );

    let before = server.now();
    assert_eq!(
        server.advance_clock(Duration::from_secs(3600)),
        before + 3600
    );
    assert!(matches!(
        server.verify_access_token(token.access_token().secret(), MCP),
        Err(VerifyError::Expired)
    ));
    let fresh = machine_token().await.unwrap();
    let claims = server
        .verify_access_token(fresh.access_token().secret(), MCP)
        .unwrap();
    // Issued at the moved clock (an hour ahead of the real one), give or take the test's own
    // running time.
    assert!((server.now() - claims["iat"].as_i64().unwrap()).abs() < 60);
    let revoked = server
        .revoke_tokens(&TokenOwner::Client("robot".to_owned()))
        .await
        .unwrap();
    assert_eq!(revoked.access_tokens, 3, "every one not revoked yet");
    let expired = server
        .expire_tokens(&TokenOwner::Client("robot".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        expired.access_tokens, 1,
        "the fresh one; the others had expired"
    );
    let rotated = server.rotate_signing_key().await.unwrap();
    assert_ne!(rotated.kid, rotated.previous_kid);
    assert_eq!(server.jwks()["keys"].as_array().unwrap().len(), 2);
    let removed = server.reset().await.unwrap();
    assert_eq!(removed.access_tokens, 3);
    assert!(server.now() - before < 3600, "the clock is back");
    assert_eq!(server.faults()[0].fault.name, "down once");
}
