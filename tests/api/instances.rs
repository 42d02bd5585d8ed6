//! Several `tollgate serve` processes behind one issuer on one PostgreSQL database.

use crate::helpers::{
    Backend, CALLBACK, CHALLENGE, Callback, RESOURCE, RegisteredClient, ServeProcess, TestDb,
    VERIFIER, assert_oauth_error, client, exactly_one_success, hidden_field,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::task::JoinSet;

/// The issuer both instances share, as if behind one load balancer.
const ISSUER: &str = "http://127.0.0.1:9999";

/// Starts `tollgate serve` on a free port with the shared issuer.
async fn start(database_url: &str) -> ServeProcess {
    ServeProcess::start(&["--issuer", ISSUER, "--database-url", database_url], &[]).await
}

async fn jwks(http: &reqwest::Client, instance: &ServeProcess) -> Value {
    http.get(format!("{}/jwks.json", instance.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A running instance, with the steps of a flow as methods.
type Instance = ServeProcess;

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Registers a client from `metadata`; the registration must succeed.
    async fn register(&self, http: &reqwest::Client, metadata: Value) -> RegisteredClient {
        let response = http
            .post(self.url("/register"))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        RegisteredClient {
            client_id: body["client_id"].as_str().unwrap().to_owned(),
            client_secret: body["client_secret"].as_str().map(str::to_owned),
            body,
        }
    }

    /// A public client like the MCP SDKs register.
    async fn public_client(&self, http: &reqwest::Client) -> RegisteredClient {
        let metadata = json!({
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none"
        });
        self.register(http, metadata).await
    }

    /// Loads the consent page and approves it as `dev`, both on this instance; returns the
    /// code.
    async fn code(&self, browser: &reqwest::Client, client_id: &str) -> String {
        let page = browser
            .get(self.url("/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", CALLBACK),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("state", "xyz"),
                ("resource", RESOURCE),
                ("scope", "mcp:tools"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK, "a consent page");
        let page = page.text().await.unwrap();
        let decision = browser
            .post(self.url("/authorize"))
            .form(&[
                ("request_id", hidden_field(&page, "request_id").as_str()),
                ("csrf_token", hidden_field(&page, "csrf_token").as_str()),
                ("user", "dev"),
                ("decision", "approve"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(decision.status(), StatusCode::SEE_OTHER);
        let callback = Callback::from_response(&decision);
        assert_eq!(callback.one("iss"), ISSUER, "AZ-20: the shared issuer");
        callback.one("code")
    }

    async fn token(&self, http: &reqwest::Client, form: &[(&str, &str)]) -> reqwest::Response {
        http.post(self.url("/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Redeems `code` of the public client `client_id`; must succeed.
    async fn redeem(&self, http: &reqwest::Client, client_id: &str, code: &str) -> Value {
        let form = redemption(client_id, code);
        let response = self.token(http, &as_pairs(&form)).await;
        assert_eq!(response.status(), StatusCode::OK, "redemption");
        response.json().await.unwrap()
    }

    /// Uses `refresh_token` of the public client `client_id`; returns the response.
    async fn refresh(
        &self,
        http: &reqwest::Client,
        client_id: &str,
        refresh_token: &str,
    ) -> reqwest::Response {
        let form = refreshment(client_id, refresh_token);
        self.token(http, &as_pairs(&form)).await
    }

    async fn introspect(
        &self,
        http: &reqwest::Client,
        caller: &RegisteredClient,
        token: &str,
    ) -> Value {
        let response = http
            .post(self.url("/introspect"))
            .basic_auth(&caller.client_id, caller.client_secret.as_deref())
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

type Form = Vec<(&'static str, String)>;

fn redemption(client_id: &str, code: &str) -> Form {
    vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
        ("client_id", client_id.to_owned()),
        ("redirect_uri", CALLBACK.to_owned()),
        ("resource", RESOURCE.to_owned()),
    ]
}

fn refreshment(client_id: &str, refresh_token: &str) -> Form {
    vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
        ("client_id", client_id.to_owned()),
    ]
}

fn as_pairs(form: &Form) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A client that may introspect every client's tokens (RFC 7662 §2.1: the resource server),
/// added with the CLI the way an operator would.
fn resource_server(database_url: &str) -> RegisteredClient {
    let added = crate::helpers::tollgate(&[
        "clients",
        "add",
        "--client-id",
        "resource-server",
        "--introspection",
        "--database-url",
        database_url,
    ]);
    let secret = added
        .lines()
        .find_map(|line| line.strip_prefix("client_secret: "))
        .unwrap_or_else(|| panic!("a generated secret in: {added}"))
        .to_owned();
    RegisteredClient {
        client_id: "resource-server".to_owned(),
        client_secret: Some(secret),
        body: Value::Null,
    }
}

/// Instances started at the same moment on an empty database agree on one signing key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn instances_started_together_agree_on_one_signing_key() {
    let http = client();
    for _round in 0..3 {
        let db = TestDb::new(Backend::Postgres).await;
        let (a, b) = tokio::join!(start(&db.url), start(&db.url));
        let (jwks_a, jwks_b) = (jwks(&http, &a).await, jwks(&http, &b).await);
        assert_eq!(jwks_a["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks_a, jwks_b);
    }
}

/// A flow moves between instances at every step: the code is issued by A (consent page
/// and decision) and redeemed on B (TK-1), its refresh token is rotated on B and the new
/// one once more on A (TK-16, TK-18); a revocation on B is seen by A on the very next
/// request (OPT-2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn a_flow_can_move_between_instances() {
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = tokio::join!(start(&db.url), start(&db.url));
    let browser = client();
    let client = a.public_client(&browser).await;
    let client_id = client.client_id.as_str();
    let resource_server = resource_server(&db.url);

    // Issued by A, redeemed on B.
    let code = a.code(&browser, client_id).await;
    let tokens = b.redeem(&browser, client_id, &code).await;

    // Rotated on B, then on A.
    let on_b = b
        .refresh(
            &browser,
            client_id,
            tokens["refresh_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(on_b.status(), StatusCode::OK, "refresh on B");
    let on_b: Value = on_b.json().await.unwrap();
    let on_a = a
        .refresh(&browser, client_id, on_b["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(on_a.status(), StatusCode::OK, "refresh on A");
    let on_a: Value = on_a.json().await.unwrap();
    let refresh_token = on_a["refresh_token"].as_str().unwrap();
    let access_token = on_a["access_token"].as_str().unwrap();
    assert_eq!(crate::helpers::jwt_payload(access_token)["aud"], RESOURCE);
    assert_eq!(on_a["scope"], "mcp:tools", "TK-18: the grant's scope");

    let introspected = b.introspect(&browser, &resource_server, access_token).await;
    assert_eq!(introspected["active"], true, "A's token, known to B");
    assert_eq!(
        a.introspect(&browser, &resource_server, access_token).await["active"],
        true
    );

    // Revoke on B; A sees it on the very next request.
    let revoked = browser
        .post(b.url("/revoke"))
        .form(&[("token", refresh_token), ("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        a.introspect(&browser, &resource_server, access_token).await["active"],
        false
    );
    let refresh_on_a = a.refresh(&browser, client_id, refresh_token).await;
    assert_oauth_error(refresh_on_a, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

const RACERS: usize = 32;

/// Sends `RACERS` copies of `form` to the token endpoint at once, alternating between the
/// instances, and returns each status with its body.
async fn race(
    http: &reqwest::Client,
    instances: [&Instance; 2],
    form: Form,
) -> Vec<(StatusCode, Value)> {
    let form = Arc::new(form);
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let url = instances[i % 2].url("/token");
        let (http, form) = (http.clone(), Arc::clone(&form));
        set.spawn(async move {
            let response = http.post(url).form(&*form).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    set.join_all().await
}

/// Asserts that the grant of a token response is revoked on both instances: its refresh
/// token is refused and its access token is inactive.
async fn assert_revoked_everywhere(
    http: &reqwest::Client,
    instances: [&Instance; 2],
    resource_server: &RegisteredClient,
    client_id: &str,
    tokens: &Value,
) {
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    for instance in instances {
        let response = instance.refresh(http, client_id, refresh_token).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{body}");
        let introspected = instance
            .introspect(http, resource_server, access_token)
            .await;
        assert_eq!(introspected["active"], false, "{}", instance.base);
    }
}

/// TK-5 and TK-16 across instances: 32 concurrent redemptions of one code, split between A
/// and B, yield exactly one token response and 31 `invalid_grant`; the replays then revoke
/// what the winner got (TK-5). Likewise 32 concurrent uses of one refresh token (of a new
/// grant): one new pair, 31 `invalid_grant`, and the reuse rule revokes the family, the
/// winner's new pair included (TK-16).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn single_use_holds_across_instances_under_concurrency() {
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = tokio::join!(start(&db.url), start(&db.url));
    let http = client();
    let client = a.public_client(&http).await;
    let client_id = client.client_id.as_str();
    let resource_server = resource_server(&db.url);

    let code = a.code(&http, client_id).await;
    let results = race(&http, [&a, &b], redemption(client_id, &code)).await;
    let tokens = exactly_one_success(results);
    assert_revoked_everywhere(&http, [&a, &b], &resource_server, client_id, &tokens).await;

    let code = b.code(&http, client_id).await;
    let tokens = a.redeem(&http, client_id, &code).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let results = race(&http, [&b, &a], refreshment(client_id, refresh_token)).await;
    let new_pair = exactly_one_success(results);
    assert_revoked_everywhere(&http, [&a, &b], &resource_server, client_id, &new_pair).await;
}

/// Concurrent dynamic registrations split between A and B never collide: every one
/// succeeds with its own client id, and each client is known to the other instance at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn registrations_race_across_instances() {
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = tokio::join!(start(&db.url), start(&db.url));
    let (a, b) = (Arc::new(a), Arc::new(b));
    let http = client();
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let (on, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (on, other, http) = (Arc::clone(on), Arc::clone(other), http.clone());
        set.spawn(async move {
            let registered = on
                .register(
                    &http,
                    json!({
                        "client_name": format!("racer {i}"),
                        "redirect_uris": [CALLBACK],
                        "token_endpoint_auth_method": "none"
                    }),
                )
                .await;
            assert_eq!(registered.body["client_name"], format!("racer {i}"));
            (registered.client_id, other)
        });
    }
    let registered = set.join_all().await;
    let mut ids: Vec<&str> = registered.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), RACERS);
    for (client_id, other) in registered.iter().take(4) {
        other.code(&http, client_id).await;
    }
}
