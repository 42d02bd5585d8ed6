//! Token exchange through the example (RFC 8693; checklist OPT-5, TX-1..TX-3): a user's
//! token reaches the MCP server, whose `call_backend` tool exchanges it at Tollgate for a
//! token for the backend API and calls the API, which checks `aud` and `act`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tollgate::config::{ConsentMode, DeclaredClient};
use tollgate::oauth::exchange::ExchangeRule;
use tollgate_example_mcp_server::backend::{BackendApi, run_backend};
use tollgate_example_mcp_server::{BackendSettings, Settings, run};

mod common;
use common::Mcp;

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "http://127.0.0.1:53682/callback";

struct Stack {
    issuer: String,
    mcp_url: String,
    backend_url: String,
    http: reqwest::Client,
    _db: tempfile::TempDir,
}

/// Tollgate (with the MCP server as a client that a `[[token_exchange]]` rule lets exchange
/// tokens for the backend, and a headless user app), the backend API and the MCP server.
async fn start(actor_expected_by_backend: &str) -> Stack {
    let tollgate_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", tollgate_listener.local_addr().unwrap());
    let mcp_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_url = format!("http://{}/mcp", mcp_listener.local_addr().unwrap());
    let backend_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_url = format!("http://{}/api", backend_listener.local_addr().unwrap());

    let db = tempfile::tempdir().unwrap();
    let mut mcp_server = DeclaredClient::confidential("mcp-server", "mcp-server-secret");
    mcp_server.grant_types = vec!["urn:ietf:params:oauth:grant-type:token-exchange".into()];
    let mut app = DeclaredClient::public("user-app", &[CALLBACK]);
    app.consent = Some(ConsentMode::Auto);
    let config = tollgate::Config {
        database_url: format!("sqlite://{}", db.path().join("tollgate.db").display()),
        clients: vec![mcp_server, app],
        token_exchange: vec![ExchangeRule {
            client: "mcp-server".into(),
            subject_audience: mcp_url.clone(),
            target: backend_url.clone(),
            scopes: vec!["api:read".into()],
        }],
        ..tollgate::Config::default()
    };
    let launch = tollgate::Launch {
        listener: Some(tollgate_listener),
        clock: None,
    };
    let tollgate = tollgate::Server::start(config, launch).await.unwrap();
    tokio::spawn(tollgate.run_until(std::future::pending()));

    let api = BackendApi {
        url: backend_url.clone(),
        issuer: issuer.clone(),
        jwks_url: format!("{issuer}/jwks.json"),
        actor: actor_expected_by_backend.to_owned(),
    };
    tokio::spawn(run_backend(backend_listener, api, std::future::pending()));
    let settings = Settings {
        public_url: mcp_url.clone(),
        issuer: issuer.clone(),
        jwks_url: format!("{issuer}/jwks.json"),
        backend: Some(BackendSettings {
            url: backend_url.clone(),
            token_url: format!("{issuer}/token"),
            client_id: "mcp-server".into(),
            client_secret: "mcp-server-secret".into(),
        }),
    };
    tokio::spawn(run(mcp_listener, settings));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    Stack {
        issuer,
        mcp_url,
        backend_url,
        http,
        _db: db,
    }
}

impl Stack {
    /// The user's access token for the MCP server, from a headless code flow.
    async fn user_token(&self) -> String {
        let redirect = self
            .http
            .get(format!("{}/authorize", self.issuer))
            .query(&[
                ("response_type", "code"),
                ("client_id", "user-app"),
                ("redirect_uri", CALLBACK),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("resource", &self.mcp_url),
                ("scope", "mcp:tools"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(redirect.status(), StatusCode::FOUND);
        let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let tokens: Value = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", "user-app"),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    fn mcp(&self, token: &str) -> Mcp {
        Mcp {
            http: self.http.clone(),
            url: self.mcp_url.clone(),
            token: token.to_owned(),
            session: None,
            next_id: 1,
        }
    }
}

/// OPT-5: `call_backend` exchanges the caller's token and the backend serves the user,
/// through the MCP server named in `act`.
#[tokio::test]
async fn opt_5_call_backend_exchanges_the_callers_token_for_the_backends() {
    let stack = start("mcp-server").await;
    let token = stack.user_token().await;
    let mut mcp = stack.mcp(&token);
    mcp.initialize().await;
    let result = mcp.call("call_backend", json!({})).await;
    let answer: Value =
        serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer["message"], "hello dev, via mcp-server");
    assert_eq!(answer["sub"], "dev");
    assert_eq!(answer["actor"], "mcp-server");
}

/// The backend checks what it receives: the user's own token (for the MCP server, without
/// `act`) is refused, and so is a delegated token whose actor is not the one it expects.
#[tokio::test]
async fn the_backend_refuses_tokens_not_for_it_or_not_delegated_to_the_mcp_server() {
    let stack = start("mcp-server").await;
    let token = stack.user_token().await;
    let passed_along = stack
        .http
        .get(&stack.backend_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(passed_along.status(), StatusCode::UNAUTHORIZED);
    assert!(
        passed_along
            .text()
            .await
            .unwrap()
            .contains("not for this API")
    );

    let strict = start("another-agent").await;
    let token = strict.user_token().await;
    let mut mcp = strict.mcp(&token);
    mcp.initialize().await;
    let (id, response) = mcp
        .send(
            "tools/call",
            json!({"name": "call_backend", "arguments": {}}),
        )
        .await;
    let refused = common::reply(response, id).await.to_string();
    assert!(
        refused.contains("403") && refused.contains("another-agent"),
        "{refused}"
    );
}
