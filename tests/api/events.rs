//! The event log (issue 12): every event type, produced by what a client or an operator
//! really does, read back from `GET /_tollgate/events` with its exact fields.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tollgate::clock::Clock;
use tollgate::config::{ConsentMode, DeclaredClient};
use tollgate::oauth::event::EventType;

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"))
}

/// `event` without its description, after checking that the description says `words`.
fn described(event: &Value, words: &str) -> Value {
    let mut event = stable(event);
    let description = event
        .as_object_mut()
        .unwrap()
        .remove("description")
        .unwrap_or_else(|| panic!("no description in {event:#}"));
    assert!(
        text(&description).contains(words),
        "the description should say '{words}': {description}"
    );
    event
}

/// The rule an event cites, as the catalogue has it.
fn rule(id: &str) -> Value {
    let rule = tollgate::oauth::rules::find(id).unwrap_or_else(|| panic!("no rule {id}"));
    json!({ "id": rule.id, "title": rule.title, "source": rule.source, "url": rule.url })
}

/// Asserts that no value in `secrets` appears anywhere in `events`.
fn assert_no_secret(events: &[Value], secrets: &[(&str, &str)]) {
    let all = serde_json::to_string(events).unwrap();
    for (what, value) in secrets {
        assert!(!value.is_empty(), "{what} is empty");
        assert!(!all.contains(value), "{what} is in the event log: {all}");
    }
}

async fn ok_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// One flow id follows an authorization from the request through the consent, the code,
/// the token request and every refresh; each step has exactly its fields, `token.issued`
/// names the access token by its `jti`, and no code, token, verifier or secret is recorded.
async fn one_flow_from_the_request_through_every_refresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let registration_token = text(&client.body["registration_access_token"]).to_owned();
    let started = app.clock.now();
    let form = app.consent_form(&app.authorize_params(id, &[])).await;
    let approved = app.decide(&form, "approve", "dev").await;
    let code = Callback::from_response(&approved).one("code");
    let first = app.redeemed(id, &code).await;
    app.clock.advance(30);
    let second = ok_json(app.refresh(id, text(&first["refresh_token"]), &[]).await).await;
    app.clock.advance(30);
    let third = ok_json(app.refresh(id, text(&second["refresh_token"]), &[]).await).await;

    let events = app.all_events().await;
    assert_eq!(
        types(&events),
        [
            "client.register",
            "authorization.request",
            "consent.shown",
            "consent.decision",
            "consent.approved",
            "code.issued",
            "token.request",
            "token.issued",
            "token.request",
            "token.issued",
            "token.request",
            "token.issued",
        ]
    );
    let flow = text(&events[1]["flow"]);
    assert!(uuid::Uuid::parse_str(flow).is_ok(), "{flow}");
    assert_eq!(
        app.events(&format!("flow={flow}")).await,
        events[1..],
        "every step after the registration is in the flow, refreshes included"
    );
    assert_eq!(app.events(&format!("client={id}")).await, events);

    assert_eq!(
        stable(&events[0]),
        json!({
            "type": "client.register",
            "endpoint": "registration",
            "client_id": id,
            "outcome": "ok",
            "details": {
                "method": "POST",
                "status": 201,
                "metadata": {
                    "client_name": "Test MCP Client",
                    "redirect_uris": [CALLBACK],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                    "application_type": "native"
                }
            }
        })
    );
    assert!(events[0].get("flow").is_none(), "registration is no flow");
    assert_eq!(
        stable(&events[1]),
        json!({
            "type": "authorization.request",
            "endpoint": "authorization",
            "flow": flow,
            "client_id": id,
            "outcome": "ok",
            "details": {
                "method": "GET",
                "status": 200,
                "parameters": {
                    "response_type": "code",
                    "client_id": id,
                    "redirect_uri": CALLBACK,
                    "code_challenge": CHALLENGE,
                    "code_challenge_method": "S256",
                    "state": "st1",
                    "resource": RESOURCE,
                    "scope": "mcp:tools"
                }
            }
        })
    );
    let step = |kind: &str, user: Option<&str>, details: Value| {
        let mut event = json!({
            "type": kind,
            "endpoint": "authorization",
            "flow": flow,
            "client_id": id,
            "outcome": "ok",
            "details": details,
        });
        if let Some(user) = user {
            event["user"] = json!(user);
        }
        event
    };
    assert_eq!(
        stable(&events[2]),
        step(
            "consent.shown",
            None,
            json!({"redirect_uri": CALLBACK, "scope": "mcp:tools", "resources": [RESOURCE]})
        )
    );
    assert_eq!(
        stable(&events[3]),
        step(
            "consent.decision",
            Some("dev"),
            json!({"method": "POST", "status": 303})
        )
    );
    assert_eq!(
        stable(&events[4]),
        step("consent.approved", Some("dev"), json!({}))
    );
    assert_eq!(
        stable(&events[5]),
        step(
            "code.issued",
            Some("dev"),
            json!({
                "redirect_uri": CALLBACK,
                "scope": "mcp:tools",
                "resources": [RESOURCE],
                "expires_at": started + 60
            })
        )
    );
    for (i, (tokens, grant_type)) in [
        (&first, "authorization_code"),
        (&second, "refresh_token"),
        (&third, "refresh_token"),
    ]
    .into_iter()
    .enumerate()
    {
        let (request, issued) = (&events[6 + 2 * i], &events[7 + 2 * i]);
        let at = (started + 30 * i as i64) * 1000;
        assert_eq!((time_ms(request), time_ms(issued)), (at, at));
        assert_eq!(
            stable(request),
            json!({
                "type": "token.request",
                "endpoint": "token",
                "flow": flow,
                "client_id": id,
                "user": "dev",
                "outcome": "ok",
                "details": {
                    "method": "POST",
                    "status": 200,
                    "grant_type": grant_type,
                    "client_authentication": "none"
                }
            })
        );
        let claims = jwt_payload(text(&tokens["access_token"]));
        assert_eq!(
            stable(issued),
            json!({
                "type": "token.issued",
                "endpoint": "token",
                "flow": flow,
                "client_id": id,
                "user": "dev",
                "outcome": "ok",
                "details": {
                    "jti": claims["jti"],
                    "aud": [RESOURCE],
                    "scope": "mcp:tools",
                    "expires_at": claims["exp"],
                    "refresh_token": true,
                    "id_token": false
                }
            })
        );
        assert!(uuid::Uuid::parse_str(text(&claims["jti"])).is_ok());
    }

    assert_no_secret(
        &events,
        &[
            ("the authorization code", &code),
            ("the PKCE verifier", VERIFIER),
            ("the CSRF token", &form.csrf_token),
            ("the registration access token", &registration_token),
            ("the first access token", text(&first["access_token"])),
            ("the first refresh token", text(&first["refresh_token"])),
            ("the second access token", text(&second["access_token"])),
            ("the second refresh token", text(&second["refresh_token"])),
            ("the third access token", text(&third["access_token"])),
            ("the third refresh token", text(&third["refresh_token"])),
        ],
    );
}

/// A denial is recorded in the flow, by the user who denied it, as `consent.denied` after
/// the refused `consent.decision`.
async fn a_denial_names_the_user_who_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let form = app.consent_form(&app.authorize_params(id, &[])).await;
    let denied = app.decide(&form, "deny", "dev").await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    let callback = Callback::from_response(&denied);
    assert_eq!(callback.one("error"), "access_denied");

    let flow = text(&app.last_event("authorization.request").await["flow"]).to_owned();
    let events = app.events(&format!("flow={flow}")).await;
    assert_eq!(
        types(&events),
        [
            "authorization.request",
            "consent.shown",
            "consent.decision",
            "consent.denied"
        ]
    );
    let refused = |kind: &str, details: Value| {
        json!({
            "type": kind,
            "endpoint": "authorization",
            "flow": flow,
            "client_id": id,
            "user": "dev",
            "outcome": "rejected",
            "error": "access_denied",
            "description": "the user denied the request",
            "details": details,
        })
    };
    assert_eq!(
        stable(&events[2]),
        refused("consent.decision", json!({"method": "POST", "status": 303}))
    );
    assert_eq!(stable(&events[3]), refused("consent.denied", json!({})));
    assert_eq!(
        callback.one("error_uri"),
        app.url(&format!("/_tollgate/events/{}", text(&events[2]["id"])))
    );
}

/// A consent form submitted from another browser is refused, and the refusal is recorded
/// in the flow of the form (no checklist row covers the CSRF check, so no rule is cited).
async fn a_consent_refusal_is_in_the_flow_of_its_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let form = app.consent_form(&app.authorize_params(id, &[])).await;
    let flow = text(&app.last_event("consent.shown").await["flow"]).to_owned();
    let elsewhere = crate::helpers::client()
        .post(app.url("/authorize"))
        .form(&[
            ("request_id", form.request_id.as_str()),
            ("csrf_token", form.csrf_token.as_str()),
            ("user", "dev"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_error_page(elsewhere, StatusCode::FORBIDDEN).await;
    let events = app.events(&format!("flow={flow}")).await;
    assert_eq!(
        types(&events),
        ["authorization.request", "consent.shown", "consent.decision"]
    );
    assert_eq!(
        described(&events[2], "without its browser cookie"),
        json!({
            "type": "consent.decision",
            "endpoint": "authorization",
            "flow": flow,
            "client_id": id,
            "outcome": "rejected",
            "error": "invalid_request",
            "details": {"method": "POST", "status": 403}
        })
    );
    assert_no_secret(&events, &[("the CSRF token", &form.csrf_token)]);
}

/// Automatic consent is `consent.approved` without a consent page; token requests name how
/// the client authenticated (Basic, post); client_credentials is a flow of its own, with no
/// user.
async fn automatic_consent_and_confidential_clients(backend: Backend) {
    let mut auto = DeclaredClient::confidential("auto-client", "auto-secret-3k9");
    auto.redirect_uris = vec![CALLBACK.to_owned()];
    auto.consent = Some(ConsentMode::Auto);
    let app = TestApp::builder(backend)
        .config(|c| c.clients.push(auto))
        .spawn()
        .await;
    let authorized = app
        .get_authorize(&app.authorize_params("auto-client", &[]))
        .await;
    assert_eq!(authorized.status(), StatusCode::FOUND);
    let code = Callback::from_response(&authorized).one("code");
    let tokens = ok_json(
        app.http
            .post(app.url("/token"))
            .basic_auth("auto-client", Some("auto-secret-3k9"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", CALLBACK),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let events = app.all_events().await;
    assert_eq!(
        types(&events),
        [
            "authorization.request",
            "consent.approved",
            "code.issued",
            "token.request",
            "token.issued"
        ]
    );
    let flow = text(&events[0]["flow"]);
    assert_eq!(events[0]["user"], "dev");
    assert_eq!(events[0]["details"]["status"], 302);
    assert_eq!(
        stable(&events[1]),
        json!({
            "type": "consent.approved",
            "endpoint": "authorization",
            "flow": flow,
            "client_id": "auto-client",
            "user": "dev",
            "outcome": "ok",
            "description": "approved without asking as 'dev' (consent mode 'auto')",
            "details": {}
        })
    );
    assert_eq!(events[3]["flow"], flow);
    assert_eq!(
        events[3]["details"]["client_authentication"],
        "client_secret_basic"
    );
    assert_eq!(
        events[4]["details"]["jti"],
        jwt_payload(text(&tokens["access_token"]))["jti"]
    );

    let response = app
        .client_credentials("auto-client", Some("auto-secret-3k9"), &[])
        .await;
    let issued = ok_json(response).await;
    let claims = jwt_payload(text(&issued["access_token"]));
    let events = app.all_events().await;
    let (request, minted) = (&events[5], &events[6]);
    let own_flow = text(&request["flow"]);
    assert_ne!(own_flow, flow, "client_credentials is a flow of its own");
    assert!(uuid::Uuid::parse_str(own_flow).is_ok());
    assert_eq!(
        stable(request),
        json!({
            "type": "token.request",
            "endpoint": "token",
            "flow": own_flow,
            "client_id": "auto-client",
            "outcome": "ok",
            "details": {
                "method": "POST",
                "status": 200,
                "grant_type": "client_credentials",
                "client_authentication": "client_secret_basic",
                // A declared secret is a chosen one: its check is one argon2 verification.
                "argon2_verifications": 1
            }
        })
    );
    assert_eq!(
        stable(minted),
        json!({
            "type": "token.issued",
            "endpoint": "token",
            "flow": own_flow,
            "client_id": "auto-client",
            "outcome": "ok",
            "details": {
                "jti": claims["jti"],
                "aud": [app.issuer],
                "scope": "",
                "expires_at": claims["exp"],
                "refresh_token": false,
                "id_token": false
            }
        })
    );

    // client_secret_post, named as such.
    let post = app.confidential_client("client_secret_post").await;
    let secret = post.client_secret.clone().unwrap();
    let code = app.code(&post.client_id).await;
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CALLBACK),
            ("client_id", &post.client_id),
            ("client_secret", &secret),
        ])
        .await;
    ok_json(response).await;
    let request = app.last_event("token.request").await;
    assert_eq!(request["client_id"], json!(post.client_id));
    assert_eq!(
        request["details"]["client_authentication"],
        "client_secret_post"
    );
    assert_no_secret(
        &app.all_events().await,
        &[
            ("the declared secret", "auto-secret-3k9"),
            ("the registered secret", &secret),
        ],
    );
}

/// Metadata and JWKS fetches name the caller: its `User-Agent`, `Origin` and
/// `MCP-Protocol-Version`.
async fn metadata_and_jwks_fetches_name_the_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    const AGENT: &str = "mcp-inspector/0.17 (events test)";
    const ORIGIN: &str = "http://localhost:6274";
    for (path, kind, endpoint) in [
        (
            "/.well-known/oauth-authorization-server",
            "metadata.fetch",
            "metadata",
        ),
        (
            "/.well-known/openid-configuration",
            "metadata.fetch",
            "metadata",
        ),
        ("/jwks.json", "jwks.fetch", "jwks"),
    ] {
        let response = app
            .http
            .get(app.url(path))
            .header("user-agent", AGENT)
            .header("origin", ORIGIN)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let events = app.all_events().await;
        assert_eq!(
            stable(events.last().unwrap()),
            json!({
                "type": kind,
                "endpoint": endpoint,
                "outcome": "ok",
                "details": {
                    "method": "GET",
                    "status": 200,
                    "user_agent": AGENT,
                    "origin": ORIGIN,
                    "mcp_protocol_version": "2025-11-25"
                }
            }),
            "{path}"
        );
    }
    // Without the headers, nothing is made up.
    app.jwks().await;
    assert_eq!(
        stable(&app.last_event("jwks.fetch").await)["details"],
        json!({"method": "GET", "status": 200})
    );
    assert_eq!(app.all_events().await.len(), 4);
}

/// Registration refusals name their rule; RFC 7592 reads, updates and deletes are
/// recorded, and a retired registration access token is refused with OPT-3. Neither the
/// secret nor any registration access token is recorded.
async fn registration_and_client_management(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let form = app
        .http
        .post(app.url("/register"))
        .form(&[("client_name", "form client")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(form, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
    assert_eq!(
        described(&app.last_event("client.register").await, "JSON object"),
        json!({
            "type": "client.register",
            "endpoint": "registration",
            "outcome": "rejected",
            "error": "invalid_client_metadata",
            "rule": rule("DCR-1"),
            "details": {"method": "POST", "status": 400}
        })
    );
    let insecure = app
        .register(&json!({"redirect_uris": ["http://app.example/cb"]}))
        .await;
    assert_oauth_error(insecure, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
    assert_eq!(
        described(
            &app.last_event("client.register").await,
            "http://app.example/cb"
        ),
        json!({
            "type": "client.register",
            "endpoint": "registration",
            "outcome": "rejected",
            "error": "invalid_redirect_uri",
            "rule": rule("DCR-3"),
            "details": {"method": "POST", "status": 400}
        })
    );

    let client = app.confidential_client("client_secret_basic").await;
    let id = client.client_id.as_str();
    let secret = client.client_secret.clone().unwrap();
    let (uri, first) = client.management();
    let (body, second) = client_information(app.read_client(&uri, &first).await).await;
    let managed = |kind: &str, method: &str, status: u16| {
        json!({
            "type": kind,
            "endpoint": "client_configuration",
            "client_id": id,
            "outcome": "ok",
            "details": {"method": method, "status": status}
        })
    };
    assert_eq!(
        stable(&app.last_event("client.read").await),
        managed("client.read", "GET", 200)
    );
    let update = json!({
        "client_id": id,
        "client_name": "Renamed Client",
        "redirect_uris": body["redirect_uris"],
        "grant_types": body["grant_types"],
        "token_endpoint_auth_method": "client_secret_basic"
    });
    let (updated, third) =
        client_information(app.update_client(&uri, &second, &update).await).await;
    assert_eq!(updated["client_name"], "Renamed Client");
    assert_eq!(
        stable(&app.last_event("client.update").await),
        managed("client.update", "PUT", 200)
    );
    // The first token was retired by the read.
    let stale = app.read_client(&uri, &first).await;
    assert_oauth_error(stale, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let refused = app.last_event("client.read").await;
    assert_eq!(
        described(&refused, "not valid for this client"),
        json!({
            "type": "client.read",
            "endpoint": "client_configuration",
            "client_id": id,
            "outcome": "rejected",
            "error": "invalid_token",
            "rule": rule("OPT-3"),
            "hint": "each GET and PUT answers with a new registration_access_token and retires \
                     the one used (RFC 7592 §5): keep the newest one",
            "details": {"method": "GET", "status": 401}
        })
    );
    let deleted = app.delete_client(&uri, &third).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        stable(&app.last_event("client.delete").await),
        managed("client.delete", "DELETE", 204)
    );
    let events = app.all_events().await;
    assert_eq!(
        types(&events),
        [
            "client.register",
            "client.register",
            "client.register",
            "client.read",
            "client.update",
            "client.read",
            "client.delete"
        ]
    );
    assert_no_secret(
        &events,
        &[
            ("the client secret", &secret),
            ("the first registration access token", &first),
            ("the second registration access token", &second),
            ("the third registration access token", &third),
        ],
    );
}

/// A metadata document fetch is recorded in the flow of the authorization request that
/// needed it, with the document; one that fails is refused with CIMD-7, and so is the
/// request.
async fn document_fetches_are_recorded(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.cimd.allow_http_loopback = true)
        .spawn()
        .await;
    let docs = DocumentServer::start().await;
    docs.publish("clients/example.json", "max-age=60");
    let client_id = docs.url("clients/example.json");
    let callback = "http://localhost:51353/callback";
    app.consent_form(&app.authorize_params(&client_id, &[("redirect_uri", callback)]))
        .await;
    let events = app.all_events().await;
    assert_eq!(
        types(&events),
        [
            "authorization.request",
            "client.document_fetch",
            "consent.shown"
        ]
    );
    let flow = text(&events[0]["flow"]);
    assert_eq!(events[0]["client_id"], json!(client_id));
    assert_eq!(
        stable(&events[1]),
        json!({
            "type": "client.document_fetch",
            "endpoint": "authorization",
            "flow": flow,
            "client_id": client_id,
            "outcome": "ok",
            "details": {
                "url": client_id,
                "metadata": {
                    "client_name": "Example MCP Client",
                    "client_uri": "https://app.example.com",
                    "redirect_uris": ["http://localhost/callback", "http://127.0.0.1:3000/callback"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none"
                }
            }
        })
    );

    let missing = docs.url("clients/missing.json");
    let response = app
        .get_authorize(&app.authorize_params(&missing, &[("redirect_uri", callback)]))
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
    let events = app.all_events().await;
    let (request, fetch) = (&events[3], &events[4]);
    assert_eq!(events.len(), 5);
    let flow = text(&request["flow"]);
    assert_eq!(
        described(fetch, "it answered 404 Not Found"),
        json!({
            "type": "client.document_fetch",
            "endpoint": "authorization",
            "flow": flow,
            "client_id": missing,
            "outcome": "rejected",
            "error": "invalid_client",
            "rule": rule("CIMD-7"),
            "details": {"url": missing}
        })
    );
    assert_eq!(request["type"], "authorization.request");
    assert_eq!(request["outcome"], "rejected");
    assert_eq!(request["rule"], rule("CIMD-7"));
    assert_eq!(request["description"], fetch["description"]);
}

/// Revocation and introspection are recorded in the flow of the token they are about;
/// revoking a refresh token revokes its grant (`grant.revoked`); revoking another client's
/// token (OPT-2) and introspecting as a public client (OPT-1) are refused.
async fn revocation_and_introspection(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_resource_server()
        .spawn()
        .await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let tokens = app.tokens(id).await;
    let (access, refresh) = (
        text(&tokens["access_token"]),
        text(&tokens["refresh_token"]),
    );
    let flow = text(&app.last_event("token.issued").await["flow"]).to_owned();
    let resource_server = app.resource_server();

    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        true
    );
    let introspected = |token: &str, active: bool| {
        json!({
            "type": "token.introspect",
            "endpoint": "introspection",
            "flow": flow,
            "client_id": RESOURCE_SERVER,
            "outcome": "ok",
            "details": {
                "method": "POST",
                "status": 200,
                "client_authentication": "client_secret_basic",
                "argon2_verifications": 1,
                "token": token,
                "active": active
            }
        })
    };
    assert_eq!(
        stable(&app.last_event("token.introspect").await),
        introspected("access_token", true)
    );

    let revoked = app.revoke(id, access).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        stable(&app.last_event("token.revoke").await),
        json!({
            "type": "token.revoke",
            "endpoint": "revocation",
            "flow": flow,
            "client_id": id,
            "outcome": "ok",
            "details": {
                "method": "POST",
                "status": 200,
                "client_authentication": "none",
                "token": "access_token"
            }
        })
    );
    assert_eq!(
        app.introspect(&resource_server, access).await,
        json!({"active": false})
    );
    let mut inactive = stable(&app.last_event("token.introspect").await);
    assert_eq!(
        inactive.as_object_mut().unwrap().remove("hint").unwrap(),
        "this access token was revoked 0 s ago"
    );
    assert_eq!(inactive, introspected("access_token", false));
    assert_eq!(
        app.introspect(&resource_server, refresh).await["active"],
        true
    );
    assert_eq!(
        stable(&app.last_event("token.introspect").await),
        introspected("refresh_token", true)
    );

    // Another client may not revoke it.
    let other = app.public_client().await;
    let response = app.revoke(&other.client_id, refresh).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert_eq!(
        described(&app.last_event("token.revoke").await, "another client"),
        json!({
            "type": "token.revoke",
            "endpoint": "revocation",
            "flow": flow,
            "client_id": other.client_id,
            "outcome": "rejected",
            "error": "unauthorized_client",
            "rule": rule("OPT-2"),
            "details": {
                "method": "POST",
                "status": 400,
                "client_authentication": "none",
                "token": "refresh_token"
            }
        })
    );
    // A public client may not introspect.
    let response = app
        .http
        .post(app.url("/introspect"))
        .form(&[("token", access), ("client_id", id)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(
        described(
            &app.last_event("token.introspect").await,
            "confidential client"
        ),
        json!({
            "type": "token.introspect",
            "endpoint": "introspection",
            "client_id": id,
            "outcome": "rejected",
            "error": "invalid_client",
            "rule": rule("OPT-1"),
            "details": {"method": "POST", "status": 401, "client_authentication": "none"}
        })
    );

    let mark = app.mark().await;
    let revoked = app.revoke(id, refresh).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let events = app.events_since(mark).await;
    assert_eq!(types(&events), ["token.revoke", "grant.revoked"]);
    assert_eq!(events[0]["details"]["token"], "refresh_token");
    assert_eq!(events[0]["outcome"], "ok");
    let grant_id = text(&events[1]["details"]["grant_id"]);
    assert!(uuid::Uuid::parse_str(grant_id).is_ok());
    assert_eq!(
        described(&events[1], "the client revoked its refresh token"),
        json!({
            "type": "grant.revoked",
            "endpoint": "revocation",
            "flow": flow,
            "client_id": id,
            "outcome": "ok",
            "details": {"grant_id": grant_id}
        })
    );
    assert_no_secret(
        &app.all_events().await,
        &[
            ("the access token", access),
            ("the refresh token", refresh),
            ("the resource server's secret", "resource-server-secret"),
        ],
    );
}

/// A code redeemed twice and a refresh token used twice are `token.replay`, followed by
/// `grant.revoked`, in the flow, with the rule and the hint of the refusal.
async fn replays_revoke_the_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let code = app.code(id).await;
    app.redeemed(id, &code).await;
    app.clock.advance(5);
    let mark = app.mark().await;
    let again = app.redeem(id, &code).await;
    assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let events = app.events_since(mark).await;
    assert_eq!(
        types(&events),
        ["token.request", "token.replay", "grant.revoked"]
    );
    let flow = text(&events[0]["flow"]);
    let hint = text(&events[0]["hint"]);
    assert!(
        hint.contains("first redeemed at") && hint.contains(", 5 s before this request"),
        "{hint}"
    );
    let description = text(&events[0]["description"]);
    assert_eq!(
        stable(&events[1]),
        json!({
            "type": "token.replay",
            "endpoint": "token",
            "flow": flow,
            "client_id": id,
            "user": "dev",
            "outcome": "rejected",
            "error": "invalid_grant",
            "description": description,
            "rule": rule("TK-5"),
            "hint": hint,
            "details": {"credential": "authorization_code"}
        })
    );
    let grant_id = text(&events[2]["details"]["grant_id"]);
    assert_eq!(
        described(&events[2], "the authorization code was used again"),
        json!({
            "type": "grant.revoked",
            "endpoint": "token",
            "flow": flow,
            "client_id": id,
            "user": "dev",
            "outcome": "rejected",
            "details": {"grant_id": grant_id}
        })
    );

    let tokens = app.tokens(id).await;
    let refresh = text(&tokens["refresh_token"]);
    ok_json(app.refresh(id, refresh, &[]).await).await;
    let first = app.last_event("token.request").await;
    app.clock.advance(7);
    let mark = app.mark().await;
    let reused = app.refresh(id, refresh, &[]).await;
    assert_oauth_error(reused, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let events = app.events_since(mark).await;
    assert_eq!(
        types(&events),
        ["token.request", "token.replay", "grant.revoked"]
    );
    let other_flow = text(&events[0]["flow"]);
    assert_ne!(other_flow, flow);
    assert_eq!(events[0]["details"]["grant_type"], "refresh_token");
    assert_eq!(events[1]["flow"], other_flow);
    assert_eq!(events[1]["rule"], rule("TK-16"));
    assert_eq!(events[1]["hint"], events[0]["hint"]);
    // Both requests and the gap between them (issue 15: refresh races).
    assert_eq!(
        events[1]["details"],
        json!({
            "credential": "refresh_token",
            "first_request": first["id"],
            "second_request": events[0]["id"],
            "gap_ms": 7000,
            "reuse": "strict"
        })
    );
    assert!(
        text(&events[2]["description"]).ends_with("the refresh token was used again"),
        "{}",
        events[2]
    );
    assert_eq!(events[2]["flow"], other_flow);
}

/// A rotation by `tollgate keys rotate` on the server's database and one by
/// `keys.rotate_every` are both `keys.rotate`, naming the new and the retired key.
async fn key_rotations_are_recorded(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.keys.reload_interval = Duration::from_millis(20))
        .spawn()
        .await;
    let kid = |jwks: &Value| text(&jwks["keys"][0]["kid"]).to_owned();
    let old = kid(&app.jwks().await);
    let output = tollgate(&["keys", "rotate", "--database-url", app.database_url()]);
    let new = output
        .lines()
        .find_map(|line| line.strip_prefix("new active signing key: "))
        .unwrap_or_else(|| panic!("{output}"))
        .to_owned();
    let rotated = described(
        &app.last_event("keys.rotate").await,
        &format!(
            "the signing key {old} was retired and {new} became the active key (tollgate keys \
             rotate)"
        ),
    );
    assert_eq!(
        rotated,
        json!({
            "type": "keys.rotate",
            "endpoint": "jwks",
            "outcome": "ok",
            "details": {"kid": new, "previous_kid": old}
        })
    );
    assert_ne!(new, old);
    app.stop().await;

    let app = TestApp::builder(backend)
        .config(|c| {
            c.keys.reload_interval = Duration::from_millis(20);
            c.keys.rotate_every = Some(Duration::from_secs(3600));
        })
        .spawn()
        .await;
    let old = kid(&app.jwks().await);
    app.clock.advance(3600);
    eventually(
        "the server rotates its key",
        Duration::from_secs(10),
        || async {
            app.events("limit=10")
                .await
                .iter()
                .any(|e| e["type"] == "keys.rotate")
        },
    )
    .await;
    let event = app.last_event("keys.rotate").await;
    let new = text(&event["details"]["kid"]).to_owned();
    assert_eq!(
        described(&event, "(keys.rotate_every)"),
        json!({
            "type": "keys.rotate",
            "endpoint": "jwks",
            "outcome": "ok",
            "details": {"kid": new, "previous_kid": old}
        })
    );
    assert_eq!(time_ms(&event), app.clock.now() * 1000);
}

/// Requests to paths that are no endpoint, where a client most likely got a URL wrong,
/// are `request.unknown_path` with the path and what was most likely meant.
async fn unknown_paths_are_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("user-agent", "client/1.0")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let events = app.all_events().await;
    assert_eq!(
        stable(&events[0]),
        json!({
            "type": "request.unknown_path",
            "outcome": "rejected",
            "hint": format!(
                "there is no endpoint at /oauth/token; this server's endpoints are listed in \
                 its metadata, {0}/.well-known/oauth-authorization-server (the token endpoint \
                 is most likely {0}/token)",
                app.issuer
            ),
            "details": {
                "method": "POST",
                "path": "/oauth/token",
                "status": 404,
                "user_agent": "client/1.0"
            }
        })
    );
    // Paths nobody would take for an endpoint are not recorded.
    let favicon = app.http.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(favicon.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.all_events().await.len(), 1);
}

/// A refusal's `error_uri` (RFC 6749 §5.2 in JSON, §4.1.2.1 in a redirect) is its event in
/// the console, and that URL answers with the very event, rule included, as JSON.
async fn error_uri_is_the_refusals_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let code = app.code(id).await;
    let response = app
        .exchange(
            id,
            &code,
            &[("redirect_uri", "http://localhost:53682/callback")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    let refusal = app.last_event("token.request").await;
    assert_eq!(
        body["error_uri"],
        app.url(&format!("/_tollgate/events/{}", text(&refusal["id"])))
    );
    let linked = ok_json(
        app.http
            .get(text(&body["error_uri"]))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(linked, refusal);
    assert_eq!(linked["rule"], rule("TK-7"));
    assert_eq!(linked["error"], "invalid_grant");

    let plain = app
        .get_authorize(&app.authorize_params(
            id,
            &[
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        ))
        .await;
    assert_eq!(plain.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&plain);
    callback.assert_redirects_to(
        CALLBACK,
        &["error", "error_description", "error_uri", "state", "iss"],
    );
    let refusal = app.last_event("authorization.request").await;
    assert_eq!(
        callback.one("error_uri"),
        app.url(&format!("/_tollgate/events/{}", text(&refusal["id"])))
    );
    let linked = ok_json(
        app.http
            .get(callback.one("error_uri"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(linked, refusal);
    assert_eq!(linked["rule"], rule("AZ-7"));
    assert_eq!(linked["error"], "invalid_request");
}

/// Every type in `EventType::ALL` comes out of one server doing what clients and operators
/// do: an event type nothing records fails here.
async fn every_event_type_is_recorded(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.cimd.allow_http_loopback = true)
        .with_resource_server()
        .spawn()
        .await;
    app.metadata().await;
    // A control operation, and a fault it adds (issue 14).
    app.add_fault(json!({"endpoint": "jwks", "delay": "1ms", "times": 1}))
        .await;
    app.jwks().await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    let (uri, token) = client.management();
    let (_, token) = client_information(app.read_client(&uri, &token).await).await;
    let tokens = app.tokens(id).await;
    let refresh = text(&tokens["refresh_token"]);
    let refreshed = ok_json(app.refresh(id, refresh, &[]).await).await;
    assert_eq!(
        app.refresh(id, refresh, &[]).await.status(),
        StatusCode::BAD_REQUEST
    );
    app.introspect(&app.resource_server(), text(&refreshed["access_token"]))
        .await;
    app.revoke(id, text(&refreshed["refresh_token"])).await;
    let form = app.consent_form(&app.authorize_params(id, &[])).await;
    app.decide(&form, "deny", "dev").await;
    let docs = DocumentServer::start().await;
    docs.publish("client.json", "no-store");
    app.consent_form(&app.authorize_params(
        &docs.url("client.json"),
        &[("redirect_uri", "http://localhost:51353/callback")],
    ))
    .await;
    app.http
        .get(app.url("/oauth/authorize"))
        .send()
        .await
        .unwrap();
    tollgate(&["keys", "rotate", "--database-url", app.database_url()]);
    // The device flow: its authorization, the verification page and the decision.
    let device = app.device_client().await;
    let codes = app.device_codes(&device.client_id).await;
    let form = app.device_form(codes["user_code"].as_str().unwrap()).await;
    app.device_decide(&form, "approve", "dev").await;
    let update = json!({"client_id": id, "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none"});
    let (_, token) = client_information(app.update_client(&uri, &token, &update).await).await;
    assert_eq!(
        app.delete_client(&uri, &token).await.status(),
        StatusCode::NO_CONTENT
    );

    let events = app.all_events().await;
    let seen: BTreeSet<&str> = events.iter().map(|e| text(&e["type"])).collect();
    // The two halves of an ID-JAG need two issuers (draft §8.3): tests/api/id_jag.rs
    // records them.
    let all: BTreeSet<&str> = EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .filter(|t| !t.starts_with("id_jag."))
        .collect();
    assert_eq!(seen, all);
}

on_both_backends!(
    one_flow_from_the_request_through_every_refresh,
    a_denial_names_the_user_who_denied,
    a_consent_refusal_is_in_the_flow_of_its_form,
    automatic_consent_and_confidential_clients,
    metadata_and_jwks_fetches_name_the_caller,
    registration_and_client_management,
    document_fetches_are_recorded,
    revocation_and_introspection,
    replays_revoke_the_family,
    key_rotations_are_recorded,
    unknown_paths_are_recorded,
    error_uri_is_the_refusals_event,
    every_event_type_is_recorded,
);
