//! Proves the example from the outside: a real Tollgate and the example server on 127.0.0.1,
//! access tokens from a real authorization-code flow, and MCP spoken over Streamable HTTP.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tollgate::clock::{Clock, SystemClock};
use tollgate::keys::SigningKey;
use tollgate::oauth::access_token::{AccessTokenClaims, TYP};
use tollgate_example_mcp_server::{Settings, run};

mod common;
use common::{Mcp, PROTOCOL_VERSION};

/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "http://127.0.0.1:53682/callback";

/// Tollgate and the example server, each on its own port.
struct Stack {
    issuer: String,
    /// The example's canonical URL, `http://127.0.0.1:PORT/mcp`.
    resource: String,
    /// Keeps cookies (the consent form needs its cookie) and follows no redirects.
    http: reqwest::Client,
    /// Tollgate's database (in `_db`), where its signing key is.
    database_url: String,
    _db: tempfile::TempDir,
}

impl Stack {
    async fn start() -> Stack {
        Stack::start_with(|_| {}).await
    }

    /// Starts the stack with changed settings for the example server.
    async fn start_with(change: impl FnOnce(&mut Settings)) -> Stack {
        let db = tempfile::tempdir().unwrap();
        let database_url = format!("sqlite://{}", db.path().join("tollgate.db").display());
        let config = tollgate::Config {
            database_url: database_url.clone(),
            ..tollgate::Config::default()
        };
        let launch = tollgate::Launch {
            listener: Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            clock: None,
        };
        let tollgate = tollgate::Server::start(config, launch).await.unwrap();
        let issuer = tollgate.issuer().to_owned();
        tokio::spawn(tollgate.run_until(std::future::pending()));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
        let mut settings = Settings {
            public_url: resource.clone(),
            issuer: issuer.clone(),
            jwks_url: format!("{issuer}/jwks.json"),
            backend: None,
        };
        change(&mut settings);
        tokio::spawn(run(listener, settings));

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .no_proxy()
            .build()
            .unwrap();
        Stack {
            issuer,
            resource,
            http,
            database_url,
            _db: db,
        }
    }

    /// A forger with Tollgate's active signing key, read from its database the way
    /// `tollgate token` reads it.
    async fn forger(&self) -> Forger {
        let store = tollgate::store::Store::connect(&self.database_url)
            .await
            .unwrap();
        let keys = store.all_keys().await.unwrap();
        store.close().await;
        let active = keys.iter().find(|key| key.active).expect("an active key");
        Forger {
            key: SigningKey::from_pem(&active.private_key_pem).unwrap(),
            issuer: self.issuer.clone(),
            resource: self.resource.clone(),
        }
    }

    fn metadata_url(&self) -> String {
        self.resource
            .replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    }

    /// An access token for `resource` and `scope`, from the authorization-code flow of a
    /// freshly registered public client, approved as `dev`. Returns it with the client id.
    async fn token(&self, resource: &str, scope: &str) -> (String, String) {
        let registration = self
            .http
            .post(format!("{}/register", self.issuer))
            .json(&json!({
                "client_name": "Example test client",
                "redirect_uris": [CALLBACK],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(registration.status(), StatusCode::CREATED);
        let client: Value = registration.json().await.unwrap();
        let client_id = client["client_id"].as_str().unwrap().to_owned();

        let consent = self
            .http
            .get(format!("{}/authorize", self.issuer))
            .query(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", CALLBACK),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("state", "st1"),
                ("resource", resource),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(consent.status(), StatusCode::OK, "a consent page");
        let html = consent.text().await.unwrap();
        let decision = self
            .http
            .post(format!("{}/authorize", self.issuer))
            .form(&[
                ("request_id", hidden_field(&html, "request_id").as_str()),
                ("csrf_token", &hidden_field(&html, "csrf_token")),
                ("user", "dev"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(decision.status(), StatusCode::SEE_OTHER);
        let location = decision.headers()["location"].to_str().unwrap();
        let callback = url::Url::parse(location).unwrap();
        let code = callback
            .query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.into_owned())
            .unwrap_or_else(|| panic!("no code in {location}"));

        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
                ("redirect_uri", CALLBACK),
                ("resource", resource),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let tokens: Value = response.json().await.unwrap();
        (
            tokens["access_token"].as_str().unwrap().to_owned(),
            client_id,
        )
    }

    /// An MCP client of the example server using `token`.
    fn mcp(&self, token: &str) -> Mcp {
        Mcp {
            http: self.http.clone(),
            url: self.resource.clone(),
            token: token.to_owned(),
            session: None,
            next_id: 1,
        }
    }
}

/// Signs access tokens with Tollgate's own key, so that a test token can differ from a good
/// one in exactly one respect.
struct Forger {
    key: SigningKey,
    issuer: String,
    resource: String,
}

impl Forger {
    /// The claims of a good token: Tollgate's issuer, this server's audience, `mcp:tools`,
    /// issued now for five minutes.
    fn claims(&self) -> AccessTokenClaims {
        let scope = Some("mcp:tools".to_owned());
        let audience = vec![self.resource.clone()];
        let now = SystemClock.now();
        AccessTokenClaims::issue(&self.issuer, "dev", "forger", audience, scope, now, 300)
    }

    fn sign(&self, typ: &str, claims: &AccessTokenClaims) -> String {
        self.key.sign(typ, claims).unwrap()
    }
}

/// `<input type="hidden" name="NAME" value="VALUE">` of a page.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].to_owned()
}

fn www_authenticate(response: &reqwest::Response) -> String {
    let challenge = response.headers().get("www-authenticate");
    challenge
        .expect("a WWW-Authenticate header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn initialize_message() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "example-test", "version": "1.0"}
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_client_is_sent_to_the_metadata_and_on_to_tollgate() {
    let stack = Stack::start().await;
    let response = (stack.http.post(&stack.resource))
        .header("origin", "https://inspector.example")
        .header("accept", "application/json, text/event-stream")
        .json(&initialize_message())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer resource_metadata="{}", scope="mcp:tools""#,
            stack.metadata_url()
        )
    );
    let exposed = &response.headers()["access-control-expose-headers"];
    assert_eq!(exposed, "*", "a browser client may read WWW-Authenticate");
    let body = response.text().await.unwrap();
    assert!(body.starts_with("401 Unauthorized: "), "{body}");

    let expected = json!({
        "resource": stack.resource,
        "authorization_servers": [stack.issuer],
        "scopes_supported": ["mcp:tools", "mcp:admin", "mcp:weather:forecast"],
        "bearer_methods_supported": ["header"]
    });
    let root = stack.metadata_url().replace("/mcp", "");
    for url in [stack.metadata_url(), root] {
        let response = (stack.http.get(&url))
            .header("origin", "https://inspector.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "browsers may read {url}"
        );
        assert_eq!(response.json::<Value>().await.unwrap(), expected, "{url}");
    }

    // A browser may send the token to the MCP endpoint from another origin.
    let preflight = (stack
        .http
        .request(reqwest::Method::OPTIONS, &stack.resource))
    .header("origin", "https://inspector.example")
    .header("access-control-request-method", "POST")
    .header(
        "access-control-request-headers",
        "authorization,content-type",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    let allowed = &preflight.headers()["access-control-allow-headers"];
    assert_eq!(
        allowed, "authorization,content-type",
        "`*` does not cover Authorization"
    );

    // The authorization server it names is the Tollgate that issues the tokens.
    let tollgate = (stack.http)
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            stack.issuer
        ))
        .send()
        .await
        .unwrap();
    let tollgate: Value = tollgate.json().await.unwrap();
    assert_eq!(tollgate["issuer"], stack.issuer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_resource_or_not_a_token_is_refused() {
    let stack = Stack::start().await;
    let (other, _) = stack
        .token("http://127.0.0.1:1/other-mcp", "mcp:tools")
        .await;
    let metadata = stack.metadata_url();
    let expectations = [
        (
            other.as_str(),
            format!(
                "the token's audience is not {0} (ask for it with resource={0})",
                stack.resource
            ),
        ),
        ("not-a-jwt", "the token is not a JWT".to_owned()),
    ];
    for (token, why) in expectations {
        let response = stack.mcp(token).post(&initialize_message()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(
            www_authenticate(&response),
            format!(
                r#"Bearer error="invalid_token", scope="mcp:tools", resource_metadata="{metadata}", error_description="{why}""#
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_this_server_can_use_the_tools() {
    let stack = Stack::start().await;
    let (token, client_id) = stack.token(&stack.resource, "mcp:tools").await;
    let mut mcp = stack.mcp(&token);
    let init = mcp.initialize().await;
    assert_eq!(init["protocolVersion"], PROTOCOL_VERSION);
    assert!(init["capabilities"]["tools"].is_object(), "{init}");
    // Its own name, not the SDK's (issue 19).
    assert_eq!(init["serverInfo"]["name"], "tollgate-example-mcp-server");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));

    let tools = mcp.request("tools/list", json!({})).await;
    let mut names: Vec<&str> = (tools["tools"].as_array().unwrap().iter())
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["add", "admin_stats", "call_backend", "forecast", "whoami"]
    );

    let whoami = mcp.call("whoami", json!({})).await;
    assert_eq!(
        whoami["structuredContent"],
        json!({"sub": "dev", "client_id": client_id, "scope": "mcp:tools"})
    );
    let sum = mcp.call("add", json!({"a": 2, "b": 40})).await;
    assert_eq!(sum["content"][0]["text"], "42", "{sum}");
}

/// MCP security best practices, "Session Hijacking": a session id names a conversation, the
/// token says who is speaking. Another user's valid token cannot use a session; the same
/// user's new token (after a refresh or step-up) can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let stack = Stack::start().await;
    let (token, _) = stack.token(&stack.resource, "mcp:tools").await;
    let mut mcp = stack.mcp(&token);
    mcp.initialize().await;

    let forger = stack.forger().await;
    let mut mallory = forger.claims();
    mallory.sub = "mallory".to_owned();
    mcp.token = forger.sign("at+jwt", &mallory);
    let (_, response) = mcp.send("tools/list", json!({})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response.text().await.unwrap().contains("another user"),
        "the refusal says why"
    );

    // The same user with another token (the forger's claims say `dev`, as the flow did).
    mcp.token = forger.sign("at+jwt", &forger.claims());
    mcp.request("tools/list", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_stats_needs_the_admin_scope() {
    let stack = Stack::start().await;
    let (tools_only, _) = stack.token(&stack.resource, "mcp:tools").await;
    let mut mcp = stack.mcp(&tools_only);
    mcp.initialize().await;
    let (_, response) = mcp.send("tools/call", json!({"name": "admin_stats"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="{}", error_description="the tool admin_stats needs the scope mcp:admin""#,
            stack.metadata_url()
        )
    );

    // Step-up: a token with the admin scope too.
    let (admin, _) = (stack.token(&stack.resource, "mcp:tools mcp:admin")).await;
    let mut mcp = stack.mcp(&admin);
    mcp.initialize().await;
    let stats = mcp.call("admin_stats", json!({})).await;
    assert!(
        stats["structuredContent"]["uptime_seconds"].is_u64(),
        "{stats}"
    );
}

/// A fine-grained scope: `forecast` needs `mcp:weather:forecast`; the 403 names it, a flow
/// for it steps up, and a token for `mcp:weather`, which covers it, works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecast_needs_the_fine_grained_scope_and_step_up_gets_it() {
    let stack = Stack::start().await;
    let (tools_only, _) = stack.token(&stack.resource, "mcp:tools").await;
    let mut mcp = stack.mcp(&tools_only);
    mcp.initialize().await;
    let call = json!({"name": "forecast", "arguments": {"city": "Oslo"}});
    let (_, response) = mcp.send("tools/call", call).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        www_authenticate(&response),
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:tools mcp:weather:forecast", resource_metadata="{}", error_description="the tool forecast needs the scope mcp:weather:forecast""#,
            stack.metadata_url()
        )
    );
    // The sibling of the scope is not enough.
    let (sibling, _) = stack
        .token(&stack.resource, "mcp:tools mcp:weather:radar")
        .await;
    let mut mcp = stack.mcp(&sibling);
    mcp.initialize().await;
    let call = json!({"name": "forecast", "arguments": {"city": "Oslo"}});
    let (_, response) = mcp.send("tools/call", call).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Step-up: the challenged scope, exactly as named; and the broader mcp:weather.
    for scope in ["mcp:tools mcp:weather:forecast", "mcp:tools mcp:weather"] {
        let (token, _) = stack.token(&stack.resource, scope).await;
        let mut mcp = stack.mcp(&token);
        mcp.initialize().await;
        let forecast = mcp.call("forecast", json!({"city": "Oslo"})).await;
        assert_eq!(
            forecast["structuredContent"],
            json!({"city": "Oslo", "forecast": "sunny, 21 °C"}),
            "{scope}: {forecast}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_must_match_byte_for_byte() {
    // The classic mistake: the issuer configured with a trailing slash.
    let stack = Stack::start_with(|settings| settings.issuer.push('/')).await;
    let (token, _) = stack.token(&stack.resource, "mcp:tools").await;
    let response = stack.mcp(&token).post(&initialize_message()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = www_authenticate(&response);
    let why = format!("the token was not issued by {}/", stack.issuer);
    assert!(
        challenge.contains(&format!(r#"error_description="{why}""#)),
        "{challenge}"
    );
}

/// TK-13, TK-14, MD-17 from the resource server's side: a token must be signed (RS256) by a
/// key in Tollgate's JWKS, typed `at+jwt` (RFC 9068 §4, so that another JWT signed by the
/// same keys cannot pass for one), issued by Tollgate, for this server, and unexpired. Each
/// token below is a good one with exactly one of these wrong, and is refused with a 401
/// that says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_any_one_defect_is_refused_with_its_reason() {
    let stack = Stack::start().await;
    let forger = stack.forger().await;
    // The control: without a defect, a token from the forger is accepted.
    let good = forger.sign(TYP, &forger.claims());
    let accepted = stack.mcp(&good).post(&initialize_message()).await;
    assert_eq!(accepted.status(), StatusCode::OK, "a good forged token");

    let mut expired = forger.claims();
    // Ten minutes ago: beyond the 60 s leeway that validators allow for clock skew.
    expired.exp = SystemClock.now() - 600;
    expired.iat = expired.exp - 300;
    let mut widened = forger.claims();
    widened.scope = Some("mcp:tools mcp:admin".to_owned());
    // A good token's header and signature around a payload that was changed.
    let tampered = {
        let good: Vec<&str> = good.split('.').collect();
        let widened = forger.sign(TYP, &widened);
        let payload = widened.split('.').nth(1).unwrap();
        format!("{}.{payload}.{}", good[0], good[2])
    };
    let (stranger, _) = tokio::task::spawn_blocking(SigningKey::generate)
        .await
        .unwrap()
        .unwrap();
    let mut other_issuer = forger.claims();
    other_issuer.iss = "http://127.0.0.1:1".to_owned();
    let mut other_audience = forger.claims();
    other_audience.aud =
        tollgate::oauth::access_token::Audience::from_list(vec!["http://127.0.0.1:1/mcp".into()]);

    let cases = [
        (
            forger.sign(TYP, &expired),
            "the token has expired".to_owned(),
        ),
        (tampered, "the token's signature is wrong".to_owned()),
        (
            stranger.sign(TYP, &forger.claims()).unwrap(),
            "the token's signing key is not one of Tollgate's".to_owned(),
        ),
        (
            forger.sign("JWT", &forger.claims()),
            "the token is not a JWT access token (typ is not at+jwt)".to_owned(),
        ),
        (
            forger.sign(TYP, &other_issuer),
            format!("the token was not issued by {}", stack.issuer),
        ),
        (
            forger.sign(TYP, &other_audience),
            format!(
                "the token's audience is not {0} (ask for it with resource={0})",
                stack.resource
            ),
        ),
    ];
    let metadata = stack.metadata_url();
    for (token, why) in cases {
        let response = stack.mcp(&token).post(&initialize_message()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(
            www_authenticate(&response),
            format!(
                r#"Bearer error="invalid_token", scope="mcp:tools", resource_metadata="{metadata}", error_description="{why}""#
            )
        );
    }
}

/// MCP "Scope Challenge Handling": the base scope that the 401 challenge asks for is needed
/// for every MCP request, not only for tool calls. A token without it gets 403
/// `insufficient_scope` naming it on initialize, on tools/list and on a tool call; a token
/// with `mcp:admin` alone cannot call admin_stats either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_needs_the_base_scope() {
    let stack = Stack::start().await;
    let metadata = stack.metadata_url();
    let challenge = |scope: &str, why: &str| {
        format!(
            r#"Bearer error="insufficient_scope", scope="{scope}", resource_metadata="{metadata}", error_description="{why}""#
        )
    };
    let (no_scope, _) = stack.token(&stack.resource, "").await;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&no_scope).unwrap();
    assert_eq!(claims["scope"], Value::Null, "no scope granted");
    let response = stack.mcp(&no_scope).post(&initialize_message()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let why = "every request to this MCP server needs the scope mcp:tools";
    assert_eq!(www_authenticate(&response), challenge("mcp:tools", why));

    // In a session opened with a good token.
    let (good, _) = stack.token(&stack.resource, "mcp:tools").await;
    let mut mcp = stack.mcp(&good);
    mcp.initialize().await;
    mcp.token = no_scope;
    let (_, response) = mcp.send("tools/list", json!({})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(www_authenticate(&response), challenge("mcp:tools", why));
    let (_, response) = mcp.send("tools/call", json!({"name": "whoami"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let why = "the tool whoami needs the scope mcp:tools";
    assert_eq!(www_authenticate(&response), challenge("mcp:tools", why));

    let (admin_only, _) = stack.token(&stack.resource, "mcp:admin").await;
    mcp.token = admin_only;
    let (_, response) = mcp.send("tools/call", json!({"name": "admin_stats"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let why = "the tool admin_stats needs the scope mcp:tools";
    let wanted = "mcp:admin mcp:tools";
    assert_eq!(www_authenticate(&response), challenge(wanted, why));
}

/// The binary stops cleanly and at once on SIGTERM (what `docker compose down` sends; as
/// PID 1 in a container it would otherwise be ignored until Docker kills it 10 s later) and
/// on Ctrl-C (SIGINT), even with an MCP session's SSE stream open.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_on_sigterm_and_ctrl_c_with_a_stream_open() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    let stack = Stack::start().await;
    let (token, _) = stack.token(&stack.resource, "mcp:tools").await;
    for signal in ["TERM", "INT"] {
        // The same canonical URL as the stack's server, so the token is good here too.
        let mut child =
            tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate-example-mcp-server"))
                .env("MCP_BIND", "127.0.0.1:0")
                .env("MCP_PUBLIC_URL", &stack.resource)
                .env("TOLLGATE_ISSUER", &stack.issuer)
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // "mcp server listening on 127.0.0.1:PORT with resource URL"
        let line = lines.next_line().await.unwrap().expect("a listening line");
        let addr = line.split_whitespace().nth(4).unwrap();

        let mut mcp = stack.mcp(&token);
        mcp.url = format!("http://{addr}/mcp");
        mcp.initialize().await;
        let stream = (stack.http.get(&mcp.url))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", mcp.session.as_deref().unwrap())
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), StatusCode::OK, "an open SSE stream");

        let pid = child.id().unwrap().to_string();
        let kill = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running 5 s after SIG{signal}"))
            .unwrap();
        assert!(status.success(), "SIG{signal}: {status}");
        drop(stream);
    }
}

/// MD-21: clients of the 2025-03-26 revision know no protected resource metadata and look
/// for the authorization server's metadata at the MCP server's origin. They are redirected
/// to Tollgate's (a browser may read the redirect), so a client that follows redirects, as
/// the SDKs' HTTP clients do, gets 200 and Tollgate's document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md_21_clients_of_2025_03_26_find_tollgate_at_the_mcp_server_origin() {
    let stack = Stack::start().await;
    let legacy_url = stack
        .resource
        .replace("/mcp", "/.well-known/oauth-authorization-server");
    let response = (stack.http.get(&legacy_url))
        .header("origin", "https://inspector.example")
        .header("mcp-protocol-version", "2025-03-26")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers()["location"],
        format!("{}/.well-known/oauth-authorization-server", stack.issuer).as_str()
    );
    assert_eq!(response.headers()["access-control-allow-origin"], "*");

    let following = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = following.get(&legacy_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], stack.issuer);
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{}/authorize", stack.issuer)
    );

    // RFC 8414 §3.1: for an issuer with a path, the well-known string goes before the path.
    let stack = Stack::start_with(|s| s.issuer = "http://127.0.0.1:1/tenant1/".into()).await;
    let legacy_url = stack
        .resource
        .replace("/mcp", "/.well-known/oauth-authorization-server");
    let response = stack.http.get(&legacy_url).send().await.unwrap();
    assert_eq!(
        response.headers()["location"],
        "http://127.0.0.1:1/.well-known/oauth-authorization-server/tenant1"
    );
}
