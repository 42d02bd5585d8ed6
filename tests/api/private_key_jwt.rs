//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9; checklist CIMD-12 and
//! the CA rules): clients that authenticate with a JWT signed with their private key, at
//! the token, revocation and introspection endpoints; registered dynamically (`jwks` or
//! `jwks_uri`), declared in the configuration (a JWK Set or a PEM public key, or `tollgate
//! clients add --jwks FILE`), or described by a metadata document.

use crate::helpers::keys::{ASSERTION_TYPE, ClientKey, claims};
use crate::helpers::{
    Answer, Backend, CALLBACK, DocumentServer, RESOURCE, TestApp, TestDb, assert_oauth_error,
    example_document, tollgate,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tollgate::clock::Clock;
use tollgate::config::DeclaredClient;

/// A server that may fetch `jwks_uri` and documents from loopback (local development).
async fn spawn(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.timeout = Duration::from_secs(2);
        })
        .spawn()
        .await
}

/// Registers a machine client (client_credentials) that authenticates with `key`.
async fn machine_client(app: &TestApp, key: &ClientKey) -> String {
    let client = app
        .register_ok(&json!({
            "client_name": "Machine",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": key.jwks()
        }))
        .await;
    assert!(
        client.client_secret.is_none(),
        "no secret for private_key_jwt"
    );
    assert_eq!(client.body["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(client.body["jwks"], key.jwks());
    client.client_id
}

impl TestApp {
    /// A client_credentials request authenticated with `assertion`, plus `extra`.
    async fn with_assertion(&self, assertion: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
            ("resource", RESOURCE),
        ];
        form.extend_from_slice(extra);
        self.token(&form).await
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// CA-6, MD: RS256, PS256, ES256 and EdDSA assertions authenticate a client_credentials
/// client, with `aud` the token endpoint or the issuer; the metadata advertises the
/// method and the algorithms.
async fn ca_each_algorithm_authenticates_a_machine_client(backend: Backend) {
    let app = spawn(backend).await;
    let metadata = app.metadata().await;
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );
    for endpoint in ["token", "revocation", "introspection"] {
        assert_eq!(
            metadata[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }
    for key in [
        ClientKey::rsa("RS256"),
        ClientKey::rsa("PS256"),
        ClientKey::ec(),
        ClientKey::ed25519(),
    ] {
        let client_id = machine_client(&app, &key).await;
        for aud in [app.url("/token"), app.issuer.clone()] {
            let response = app
                .with_assertion(&key.assertion(&client_id, &aud, app.now()), &[])
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{} to {aud}", key.alg);
            let body: Value = response.json().await.unwrap();
            let claims = app
                .verify_access_token(body["access_token"].as_str().unwrap(), RESOURCE)
                .await
                .unwrap();
            assert_eq!(claims["client_id"], client_id.as_str());
        }
        let events = app.events_of_type(&client_id, "token.request").await;
        assert_eq!(
            events[0]["details"]["client_authentication"],
            "private_key_jwt"
        );
        assert_eq!(events[0]["details"]["assertion_alg"], key.alg);
    }
}

/// The code flow, refresh, revocation and introspection with `private_key_jwt`, the keys
/// at a `jwks_uri`; each endpoint takes its own URL (or the token endpoint's) as `aud`.
async fn ca_a_jwks_uri_client_uses_every_endpoint(backend: Backend) {
    let app = spawn(backend).await;
    let key = ClientKey::ec();
    let site = DocumentServer::start().await;
    site.answer(
        "jwks.json",
        Answer::json(key.jwks().to_string(), "max-age=300"),
    );
    let client = app
        .register_ok(&json!({
            "client_name": "Web app with keys",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": site.url("jwks.json")
        }))
        .await;
    let client_id = client.client_id.as_str();
    let code = app.code(client_id).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", crate::helpers::VERIFIER),
        ("redirect_uri", CALLBACK),
        ("client_assertion_type", ASSERTION_TYPE),
    ];
    let assertion = key.assertion(client_id, &app.url("/token"), app.now());
    let mut with = form.to_vec();
    with.push(("client_assertion", &assertion));
    let response = app.token(&with).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();

    let assertion = key.assertion(client_id, &app.url("/token"), app.now());
    let response = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed: Value = response.json().await.unwrap();

    // Introspection: aud = the introspection endpoint; a client may see its own tokens.
    let access = refreshed["access_token"].as_str().unwrap();
    let assertion = key.assertion(client_id, &app.url("/introspect"), app.now());
    let response = app
        .http
        .post(app.url("/introspect"))
        .form(&[
            ("token", access),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], client_id);

    // Revocation: aud = the token endpoint works there too (OpenID Connect Core §9).
    let assertion = key.assertion(client_id, &app.url("/token"), app.now());
    let response = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", refreshed["refresh_token"].as_str().unwrap()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(site.hits("jwks.json"), 1, "the key set is cached");
    // The introspection endpoint's URL is not an audience of the revocation endpoint.
    let assertion = key.assertion(client_id, &app.url("/introspect"), app.now());
    let response = app
        .http
        .post(app.url("/revoke"))
        .form(&[
            ("token", "x"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    let description =
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("CA-3"), "{description}");
}

/// Every check of an assertion refuses with `invalid_client` and says which check failed
/// (the rule, and what was expected).
async fn ca_each_refusal_says_which_check_failed(backend: Backend) {
    // Failed assertions count against the client's failure budget (SEC-2) like wrong
    // secrets; this test fails more often than that allows.
    let app = TestApp::builder(backend)
        .config(|c| c.client_auth_failures_per_minute = 100)
        .spawn()
        .await;
    let key = ClientKey::ed25519();
    let client_id = machine_client(&app, &key).await;
    let token_url = app.url("/token");
    let now = app.now();
    let with = |change: Value| {
        let mut claims = claims(&client_id, &token_url, now);
        for (name, value) in change.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        key.sign(&claims)
    };
    let other_key = ClientKey::ed25519();
    let cases = [
        (
            with(json!({"iss": "someone-else"})),
            "CA-2",
            "'iss' is 'someone-else'",
        ),
        (
            with(json!({"aud": "https://elsewhere.example/token"})),
            "CA-3",
            "'aud' is 'https://elsewhere.example/token'",
        ),
        (with(json!({"aud": null})), "CA-3", "'aud' is missing"),
        (with(json!({"exp": now - 5})), "CA-4", "expired 5 s ago"),
        (
            with(json!({"exp": now + 7200})),
            "CA-4",
            "expire within 3600 s",
        ),
        (with(json!({"exp": null})), "CA-4", "'exp' is missing"),
        (with(json!({"iat": now + 600})), "CA-4", "in the future"),
        (with(json!({"jti": null})), "CA-5", "'jti' is missing"),
        (
            other_key.sign_with_header(&claims(&client_id, &token_url, now), Some(&key.kid)),
            "CA-6",
            "does not verify",
        ),
        (
            other_key.sign(&claims(&client_id, &token_url, now)),
            "CA-6",
            "no key with 'kid'",
        ),
        (
            unsigned(&claims(&client_id, &token_url, now)),
            "CA-6",
            "unsigned JWT proves nothing",
        ),
        ("not-a-jwt".to_owned(), "CA-1", "three base64url parts"),
    ];
    for (assertion, rule, why) in cases {
        let response = app.with_assertion(&assertion, &[]).await;
        let description =
            assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
        assert!(description.contains(rule), "{rule}: {description}");
        assert!(description.contains(why), "{why}: {description}");
    }
    // The event names the rule and the values compared.
    let refused = app.events_of_type(&client_id, "token.request").await;
    let aud = refused
        .iter()
        .find(|e| e["rule"]["id"] == "CA-3")
        .expect("the aud refusal is recorded");
    assert_eq!(aud["received"], "https://elsewhere.example/token");
    assert!(aud["expected"].as_str().unwrap().contains(&token_url));

    // CA-5: an assertion is accepted once.
    let assertion = key.assertion(&client_id, &token_url, now);
    let first = app.with_assertion(&assertion, &[]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = app.with_assertion(&assertion, &[]).await;
    let description = assert_oauth_error(again, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("was used before"), "{description}");

    // CA-1, CA-2: the form of the request.
    let assertion = key.assertion(&client_id, &token_url, now);
    for (form, status, error, why) in [
        (
            vec![
                ("client_assertion_type", "urn:x"),
                ("client_assertion", assertion.as_str()),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_assertion_type is 'urn:x'",
        ),
        (
            vec![("client_assertion", assertion.as_str())],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_assertion_type is missing",
        ),
        (
            vec![
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
                ("client_id", "another-client"),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "must name the same client",
        ),
        (
            vec![
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion.as_str()),
                ("client_secret", "s"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than once",
        ),
        (
            vec![("client_id", client_id.as_str())],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "registered private_key_jwt",
        ),
    ] {
        let mut full = vec![("grant_type", "client_credentials")];
        full.extend(form);
        let response = app.token(&full).await;
        let description = assert_oauth_error(response, status, error).await;
        assert!(description.contains(why), "{why}: {description}");
    }

    // TK-10: a client that registered a secret cannot switch to an assertion.
    let secret_client = app
        .register_ok(&json!({"grant_types": ["client_credentials"],
                              "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    let response = app
        .with_assertion(
            &key.assertion(&secret_client.client_id, &token_url, now),
            &[],
        )
        .await;
    let description =
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(
        description.contains("registered token_endpoint_auth_method 'client_secret_post'"),
        "{description}"
    );
    // An unknown client.
    let response = app
        .with_assertion(&key.assertion("nobody", &token_url, now), &[])
        .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// SEC-2: assertions that fail count against the client's budget of failed
/// authentications, like wrong secrets; then even a good one waits.
async fn sec_2_failed_assertions_are_throttled(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.client_auth_failures_per_minute = 3)
        .spawn()
        .await;
    let (key, other) = (ClientKey::ec(), ClientKey::ec());
    let client_id = machine_client(&app, &key).await;
    let forged = other.sign_with_header(
        &claims(&client_id, &app.url("/token"), app.now()),
        Some(&key.kid),
    );
    for _ in 0..3 {
        let response = app.with_assertion(&forged, &[]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let good = key.assertion(&client_id, &app.url("/token"), app.now());
    let response = app.with_assertion(&good, &[]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A JWT with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let part = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(&json!({"alg": "none"})), part(claims))
}

/// CA-7: registration refuses a private_key_jwt client without keys, with both kinds, or
/// with keys it cannot use.
async fn ca_7_registration_checks_the_keys(backend: Backend) {
    let app = spawn(backend).await;
    let key = ClientKey::ec();
    let mut private = key.jwks();
    private["keys"][0]["d"] = json!("c2VjcmV0");
    for (body, why) in [
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
            "must register its public keys",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": key.jwks(), "jwks_uri": "https://c.example/jwks.json"}),
            "both present",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks": private}),
            "private key material",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                "jwks_uri": "http://c.example/jwks.json"}),
            "https URL",
        ),
    ] {
        let response = app.register(&body).await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(description.contains(why), "{why}: {description}");
    }
}

/// Keys at a `jwks_uri` may be rotated: an assertion with a `kid` the cached set lacks
/// fetches the set again, once the cached copy is 10 s old.
async fn ca_6_rotated_keys_at_a_jwks_uri_are_fetched_again(backend: Backend) {
    let app = spawn(backend).await;
    let (old, new) = (ClientKey::ec(), ClientKey::rsa("RS256"));
    let site = DocumentServer::start().await;
    site.answer("keys", Answer::json(old.jwks().to_string(), "max-age=3600"));
    let client = app
        .register_ok(&json!({"grant_types": ["client_credentials"],
                              "token_endpoint_auth_method": "private_key_jwt",
                              "jwks_uri": site.url("keys")}))
        .await;
    let token_url = app.url("/token");
    let ok = app
        .with_assertion(
            &old.assertion(&client.client_id, &token_url, app.now()),
            &[],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    site.answer("keys", Answer::json(new.jwks().to_string(), "max-age=3600"));
    let soon = app
        .with_assertion(
            &new.assertion(&client.client_id, &token_url, app.now()),
            &[],
        )
        .await;
    let description = assert_oauth_error(soon, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("no key with 'kid'"), "{description}");
    app.clock.advance(10);
    let later = app
        .with_assertion(
            &new.assertion(&client.client_id, &token_url, app.now()),
            &[],
        )
        .await;
    assert_eq!(later.status(), StatusCode::OK);
    assert_eq!(site.hits("keys"), 2);
}

/// Declared clients: a JWK Set in the file, a PEM public key in the file, and `tollgate
/// clients add --jwks FILE` with a JWK Set or a PEM file; each authenticates with
/// client_credentials.
async fn ca_declared_and_cli_clients_use_their_keys(backend: Backend) {
    let (ec, ed, rsa, ps) = (
        ClientKey::ec(),
        ClientKey::ed25519(),
        ClientKey::rsa("RS256"),
        ClientKey::rsa("PS256"),
    );
    let with_pem = DeclaredClient {
        public_key: Some(ed.pem.clone()),
        ..DeclaredClient::public("machine-pem", &[])
    };
    let db = TestDb::new(backend).await;
    let app = TestApp::builder(backend)
        .on_db(db)
        .config(|c| {
            c.clients
                .push(DeclaredClient::with_keys("machine-jwks", ec.jwks()));
            c.clients.push(with_pem);
        })
        .spawn()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, rsa.jwks().to_string()).unwrap();
    let pem_file = dir.path().join("public.pem");
    std::fs::write(&pem_file, &ps.pem).unwrap();
    let db = app.database_url();
    for (id, file) in [("cli-jwks", &jwks_file), ("cli-pem", &pem_file)] {
        let added = tollgate(&[
            "clients",
            "add",
            "--database-url",
            db,
            "--client-id",
            id,
            "--jwks",
            file.to_str().unwrap(),
        ]);
        assert!(
            added.contains("token_endpoint_auth_method: private_key_jwt"),
            "{added}"
        );
        assert!(!added.contains("client_secret"), "no secret: {added}");
    }
    let token_url = app.url("/token");
    for (client_id, key) in [
        ("machine-jwks", &ec),
        ("machine-pem", &ed),
        ("cli-jwks", &rsa),
        ("cli-pem", &ps),
    ] {
        // A PEM key has no kid: the assertion names none, and the one key is tried.
        let assertion = if client_id.ends_with("pem") {
            key.sign_with_header(&claims(client_id, &token_url, app.now()), None)
        } else {
            key.assertion(client_id, &token_url, app.now())
        };
        let response = app.with_assertion(&assertion, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{client_id}");
    }
}

/// CIMD-12: a metadata document client (ChatGPT's shape) authenticates with
/// `private_key_jwt` and the keys at the document's `jwks_uri`.
async fn cimd_12_a_document_client_with_private_key_jwt(backend: Backend) {
    let app = spawn(backend).await;
    let key = ClientKey::rsa("RS256");
    let site = DocumentServer::start().await;
    let client_id = site.url("oauth/client.json");
    site.answer(
        "oauth/jwks.json",
        Answer::json(key.jwks().to_string(), "max-age=60"),
    );
    let document = example_document(
        &client_id,
        &format!(
            r#","jwks_uri":"{}","token_endpoint_auth_methods_supported":["none","private_key_jwt"]"#,
            site.url("oauth/jwks.json")
        ),
    )
    .replace(r#""token_endpoint_auth_method":"none""#, r#""token_endpoint_auth_method":"private_key_jwt""#);
    site.answer("oauth/client.json", Answer::json(document, "max-age=60"));
    let callback = app
        .approve(
            &client_id,
            &[("redirect_uri", "http://127.0.0.1:3000/callback")],
        )
        .await;
    let assertion = key.assertion(&client_id, &app.url("/token"), app.now());
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", callback.one("code").as_str()),
            ("code_verifier", crate::helpers::VERIFIER),
            ("redirect_uri", "http://127.0.0.1:3000/callback"),
            ("client_id", client_id.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    // Without the assertion, the document client is not a public client.
    let code = app
        .approve(
            &client_id,
            &[("redirect_uri", "http://127.0.0.1:3000/callback")],
        )
        .await
        .one("code");
    let response = app
        .exchange(
            &client_id,
            &code,
            &[("redirect_uri", "http://127.0.0.1:3000/callback")],
        )
        .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

on_both_backends!(
    ca_each_algorithm_authenticates_a_machine_client,
    ca_a_jwks_uri_client_uses_every_endpoint,
    ca_each_refusal_says_which_check_failed,
    sec_2_failed_assertions_are_throttled,
    ca_7_registration_checks_the_keys,
    ca_6_rotated_keys_at_a_jwks_uri_are_fetched_again,
    ca_declared_and_cli_clients_use_their_keys,
    cimd_12_a_document_client_with_private_key_jwt,
);

/// CA-5 across instances: two servers on one PostgreSQL database, behind one issuer,
/// accept an assertion once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(tollgate_postgres_tests),
    ignore = "the PostgreSQL half was not run: set TOLLGATE_TEST_POSTGRES_URL"
)]
async fn ca_5_a_jti_is_used_once_across_instances() {
    const ISSUER: &str = "http://127.0.0.1:9998";
    let db = TestDb::new(Backend::Postgres).await;
    let instance = |db: std::sync::Arc<TestDb>| {
        TestApp::builder(Backend::Postgres)
            .on_db(db)
            .config(|c| c.issuer = Some(ISSUER.to_owned()))
            .spawn()
    };
    let (a, b) = (instance(db.clone()).await, instance(db).await);
    let key = ClientKey::ec();
    let registered = a
        .http
        .post(format!("http://{}/register", a.addr))
        .json(&json!({"grant_types": ["client_credentials"],
                      "token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks()}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let client_id = registered.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = |app: &TestApp, assertion: String| {
        app.http
            .post(format!("http://{}/token", app.addr))
            .form(&[
                ("grant_type", "client_credentials".to_owned()),
                ("client_assertion_type", ASSERTION_TYPE.to_owned()),
                ("client_assertion", assertion),
            ])
            .send()
    };
    let assertion = key.assertion(&client_id, &format!("{ISSUER}/token"), a.now());
    let first = token(&a, assertion.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let replayed = token(&b, assertion).await.unwrap();
    let description =
        assert_oauth_error(replayed, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(description.contains("was used before"), "{description}");
    let fresh = key.assertion(&client_id, &format!("{ISSUER}/token"), b.now());
    assert_eq!(token(&b, fresh).await.unwrap().status(), StatusCode::OK);
}
