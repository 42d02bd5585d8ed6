//! Several `tollgate serve` processes behind one issuer on one PostgreSQL database.

use crate::helpers::{Backend, Callback, ServeProcess, TestDb, VERIFIER, client, hidden_field};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// A flow that starts on A and finishes on B works; a revocation on B is seen by A at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn a_flow_can_move_between_instances() {
    let db = TestDb::new(Backend::Postgres).await;
    let (a, b) = tokio::join!(start(&db.url), start(&db.url));
    let browser = client();

    let registered: Value = browser
        .post(format!("{}/register", a.base))
        .json(&json!({
            "redirect_uris": [crate::helpers::CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    let resource_server: Value = browser
        .post(format!("{}/register", b.base))
        .json(&json!({"redirect_uris": [crate::helpers::CALLBACK]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The consent page from A, the decision to B (the browser cookie is the same).
    let page = browser
        .get(format!("{}/authorize", a.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", crate::helpers::CALLBACK),
            ("code_challenge", crate::helpers::CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
            ("resource", crate::helpers::RESOURCE),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let decision = browser
        .post(format!("{}/authorize", b.base))
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
    assert_eq!(callback.one("iss"), ISSUER);
    let code = callback.one("code");

    // Redeem on B, refresh on B.
    let tokens: Value = browser
        .post(format!("{}/token", b.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed: Value = browser
        .post(format!("{}/token", b.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refresh_token = refreshed["refresh_token"].as_str().unwrap();
    let access_token = refreshed["access_token"].as_str().unwrap();

    let introspect_on_a = || async {
        browser
            .post(format!("{}/introspect", a.base))
            .basic_auth(
                resource_server["client_id"].as_str().unwrap(),
                resource_server["client_secret"].as_str(),
            )
            .form(&[("token", access_token)])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(introspect_on_a().await["active"], true);

    // Revoke on B; A sees it on the very next request.
    let revoked = browser
        .post(format!("{}/revoke", b.base))
        .form(&[("token", refresh_token), ("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(introspect_on_a().await["active"], false);
    let refresh_on_a = browser
        .post(format!("{}/token", a.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refresh_on_a.status(), StatusCode::BAD_REQUEST);
}
