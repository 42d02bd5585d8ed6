//! Hints for near-misses (issue 12): each mistake developers really make is triggered here
//! as a client would make it, and the event log is read for the rule, the values compared
//! and the hint that explains it in plain words.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tollgate::config::DeclaredClient;
use tollgate::oauth::resource::Resource;

/// The refusal `event` records: its type, error, rule, and the values compared (`None`:
/// none recorded). Returns its hint.
fn refusal(
    event: &Value,
    kind: &str,
    error: &str,
    rule: &str,
    compared: Option<(&str, &str)>,
) -> String {
    assert_eq!(event["type"], kind, "{event:#}");
    assert_eq!(event["outcome"], "rejected", "{event:#}");
    assert_eq!(event["error"], error, "{event:#}");
    assert_eq!(event["rule"]["id"], rule, "{event:#}");
    let (expected, received) = match compared {
        Some((expected, received)) => (json!(expected), json!(received)),
        None => (Value::Null, Value::Null),
    };
    assert_eq!(event["expected"], expected, "expected, in {event:#}");
    assert_eq!(event["received"], received, "received, in {event:#}");
    hint_of(event)
}

fn hint_of(event: &Value) -> String {
    event["hint"]
        .as_str()
        .unwrap_or_else(|| panic!("no hint in {event:#}"))
        .to_owned()
}

/// Asserts that `hint` says each of `words`.
fn says(hint: &str, words: &[&str]) {
    for word in words {
        assert!(hint.contains(word), "the hint should say '{word}': {hint}");
    }
}

/// An authorization request for `client_id` with `changes`, refused with the error page
/// (the redirect URI is not verified, so nothing is sent there); returns its event.
async fn refused_on_the_page(app: &TestApp, client_id: &str, changes: &[(&str, &str)]) -> Value {
    let response = app
        .get_authorize(&app.authorize_params(client_id, changes))
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
    app.last_event("authorization.request").await
}

/// An authorization request for `client_id` with `changes`, refused with an error
/// redirect to the verified loopback redirect URI; returns its event.
async fn refused_by_redirect(
    app: &TestApp,
    client_id: &str,
    changes: &[(&str, &str)],
    error: &str,
) -> Value {
    let response = app
        .get_authorize(&app.authorize_params(client_id, changes))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("error"), error);
    assert_console_link(app, &callback);
    app.last_event("authorization.request").await
}

/// A client registered with one redirect URI.
async fn client_with(app: &TestApp, redirect_uri: &str) -> String {
    app.register_ok(&json!({
        "client_name": "Hinted Client",
        "redirect_uris": [redirect_uri],
        "token_endpoint_auth_method": "none"
    }))
    .await
    .client_id
}

/// `localhost` where `127.0.0.1` was registered: at the authorization endpoint (AZ-3) and
/// at the token endpoint (TK-7).
async fn localhost_is_not_127_0_0_1(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let sent = "http://localhost:53682/callback";
    let event = refused_on_the_page(&app, &client.client_id, &[("redirect_uri", sent)]).await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_request",
        "AZ-3",
        Some((&format!("'{CALLBACK}'"), sent)),
    );
    says(
        &hint,
        &[
            "'localhost' is not '127.0.0.1'",
            "compared as strings",
            &format!("Use the one that was registered, '{CALLBACK}'"),
        ],
    );

    let code = app.code(&client.client_id).await;
    let response = app
        .exchange(&client.client_id, &code, &[("redirect_uri", sent)])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(
        &event,
        "token.request",
        "invalid_grant",
        "TK-7",
        Some((CALLBACK, sent)),
    );
    says(&hint, &["'localhost' is not '127.0.0.1'"]);
}

/// A redirect URI with a trailing slash the registered one does not have.
async fn a_trailing_slash_in_a_redirect_uri(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let sent = format!("{CALLBACK}/");
    let event = refused_on_the_page(&app, &client.client_id, &[("redirect_uri", &sent)]).await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_request",
        "AZ-3",
        Some((&format!("'{CALLBACK}'"), &sent)),
    );
    says(
        &hint,
        &[
            &format!("'{sent}' has a trailing slash that the expected one does not have"),
            &format!("Send exactly '{CALLBACK}'"),
        ],
    );
}

/// A resource with a trailing slash that the configured resource does not have: refused
/// with invalid_target (AZ-15), and the hint says it is the slash.
async fn a_trailing_slash_in_a_resource(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.resources = vec![Resource::with_scopes(RESOURCE, &[])])
        .spawn()
        .await;
    let client = app.public_client().await;
    let sent = format!("{RESOURCE}/");
    let event = refused_by_redirect(
        &app,
        &client.client_id,
        &[("resource", &sent)],
        "invalid_target",
    )
    .await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_target",
        "AZ-15",
        Some((&format!("'{RESOURCE}'"), &sent)),
    );
    says(&hint, &["has a trailing slash", &format!("'{RESOURCE}'")]);
}

/// A default port written out (`:443`) where the registered redirect URI has none.
async fn a_default_port_written_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = "https://app.example/cb";
    let client_id = client_with(&app, registered).await;
    let sent = "https://app.example:443/cb";
    let event = refused_on_the_page(&app, &client_id, &[("redirect_uri", sent)]).await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_request",
        "AZ-3",
        Some((&format!("'{registered}'"), sent)),
    );
    says(
        &hint,
        &[
            "differ only in how they are written",
            "a default port written out",
            &format!("send '{registered}' exactly"),
        ],
    );
}

/// `http` where `https` was registered.
async fn http_where_https_was_registered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = "https://app.example/cb";
    let client_id = client_with(&app, registered).await;
    let sent = "http://app.example/cb";
    let event = refused_on_the_page(&app, &client_id, &[("redirect_uri", sent)]).await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_request",
        "AZ-3",
        Some((&format!("'{registered}'"), sent)),
    );
    says(
        &hint,
        &[
            "the scheme differs: 'http' was sent where 'https' is expected",
            registered,
        ],
    );
}

/// A redirect URI that differs only in its port: accepted on http loopback (RFC 8252
/// §7.3), refused on an https host, and the hint says only loopback may differ.
async fn only_loopback_redirect_uris_may_change_their_port(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let registered = "https://app.example:8443/cb";
    let client_id = client_with(&app, registered).await;
    let sent = "https://app.example:9443/cb";
    let event = refused_on_the_page(&app, &client_id, &[("redirect_uri", sent)]).await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_request",
        "AZ-3",
        Some((&format!("'{registered}'"), sent)),
    );
    says(
        &hint,
        &[
            &format!("only the port differs from '{registered}'"),
            "any port is allowed only for http URIs on a loopback host (RFC 8252 §7.3)",
            "not for 'app.example'",
        ],
    );
    // The same change on the loopback redirect URI goes through.
    let client = app.public_client().await;
    app.consent_form(&app.authorize_params(
        &client.client_id,
        &[("redirect_uri", "http://127.0.0.1:40001/callback")],
    ))
    .await;
    assert_eq!(app.last_event("consent.shown").await["outcome"], "ok");
}

/// A loopback redirect URI whose port changed between the authorization request (where any
/// port is accepted) and the token request (where it must be the same, TK-7).
async fn a_loopback_port_that_changed_before_the_token_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let used = "http://127.0.0.1:40001/callback";
    let code = app
        .approve(&client.client_id, &[("redirect_uri", used)])
        .await
        .one("code");
    let response = app
        .exchange(&client.client_id, &code, &[("redirect_uri", CALLBACK)])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(
        &event,
        "token.request",
        "invalid_grant",
        "TK-7",
        Some((used, CALLBACK)),
    );
    says(
        &hint,
        &[
            &format!("only the port differs from '{used}'"),
            "any port is accepted for an http loopback redirect URI at the authorization \
             endpoint (RFC 8252 §7.3)",
            &format!("here the value must be exactly '{used}', port included"),
        ],
    );
}

/// A resource spelled one way at /authorize and another at /token (TK-8).
async fn a_resource_spelled_differently_at_the_token_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let sent = "http://localhost:8000/mcp";
    let response = app
        .exchange(
            &client.client_id,
            &code,
            &[("redirect_uri", CALLBACK), ("resource", sent)],
        )
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_target").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(
        &event,
        "token.request",
        "invalid_target",
        "TK-8",
        Some((&format!("'{RESOURCE}'"), sent)),
    );
    says(
        &hint,
        &[
            "the resource is spelled differently at the token endpoint than in the \
             authorization request",
            "'localhost' is not '127.0.0.1'",
        ],
    );
}

/// The PKCE verifier of another authorization: the hint names that flow and its client.
async fn a_pkce_verifier_of_another_flow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let id = client.client_id.as_str();
    // A flow with the RFC 7636 verifier's challenge ...
    app.code(id).await;
    let other_flow = app.last_event("code.issued").await["flow"].clone();
    // ... and one with a challenge of its own, redeemed with the first one's verifier.
    let own_challenge = "A".repeat(43);
    let code = app
        .approve(id, &[("code_challenge", &own_challenge)])
        .await
        .one("code");
    let response = app.redeem(id, &code).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    assert_ne!(event["flow"], other_flow);
    let hint = refusal(
        &event,
        "token.request",
        "invalid_grant",
        "TK-3",
        Some((&own_challenge, CHALLENGE)),
    );
    says(
        &hint,
        &[
            "this code_verifier belongs to another authorization",
            &format!("flow {}", other_flow.as_str().unwrap()),
            &format!("client '{id}'"),
        ],
    );
}

/// A `plain` PKCE challenge, and a challenge without a method (which means plain).
async fn a_plain_pkce_challenge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for (method, received) in [("plain", "plain"), ("", "(none: plain)")] {
        let event = refused_by_redirect(
            &app,
            &client.client_id,
            &[
                ("code_challenge", VERIFIER),
                ("code_challenge_method", method),
            ],
            "invalid_request",
        )
        .await;
        let hint = refusal(
            &event,
            "authorization.request",
            "invalid_request",
            "AZ-7",
            Some(("S256", received)),
        );
        says(
            &hint,
            &[
                "looks like a 'plain' PKCE challenge (the verifier itself, 43 characters)",
                "code_challenge = BASE64URL(SHA256(code_verifier))",
                "code_challenge_method=S256",
            ],
        );
    }
}

/// A code redeemed after its 60 seconds: the hint says how old it was and how late.
async fn a_code_used_after_its_60_seconds(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    app.clock.advance(75);
    let response = app.redeem(&client.client_id, &code).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(&event, "token.request", "invalid_grant", "AZ-12", None);
    says(
        &hint,
        &[
            "this code was issued 1 min 15 s before this request and expired 15 s ago",
            "redeem the code as soon as the redirect arrives",
        ],
    );
}

/// A code redeemed twice: the hint says when it was first redeemed.
async fn a_code_used_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    app.redeemed(&client.client_id, &code).await;
    let first = app.last_event("token.request").await;
    app.clock.advance(4);
    let response = app.redeem(&client.client_id, &code).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(&event, "token.request", "invalid_grant", "TK-5", None);
    says(
        &hint,
        &[
            &format!(
                "this code was first redeemed at {}, 4 s before this request",
                first["time"].as_str().unwrap()
            ),
            "a client must redeem a code once",
            "retry the token request after a timeout",
        ],
    );
}

/// A refresh token used twice: the hint names the first use and the gap.
async fn a_refresh_token_used_twice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    app.clock.advance(3);
    let response = app.refresh(&client.client_id, refresh, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let first = app.last_event("token.request").await;
    app.clock.advance(125);
    let response = app.refresh(&client.client_id, refresh, &[]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(&event, "token.request", "invalid_grant", "TK-16", None);
    says(
        &hint,
        &[
            &format!(
                "this refresh token was first used at {}, 2 min 5 s before this request, which \
                 is the second use",
                first["time"].as_str().unwrap()
            ),
            "the old one must be thrown away",
        ],
    );
}

/// A scope the client's declaration does not allow: the hint lists what it allows.
async fn a_scope_the_client_may_not_ask_for(backend: Backend) {
    let mut scoped = DeclaredClient::public("scoped-client", &[CALLBACK]);
    scoped.scopes = vec!["mcp:read".to_owned(), "mcp:tools".to_owned()];
    let app = TestApp::builder(backend)
        .config(|c| c.clients.push(scoped))
        .spawn()
        .await;
    let event = refused_by_redirect(
        &app,
        "scoped-client",
        &[("scope", "mcp:read mcp:write")],
        "invalid_scope",
    )
    .await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_scope",
        "AZ-17",
        Some(("mcp:read mcp:tools", "mcp:read mcp:write")),
    );
    says(
        &hint,
        &["this client's declaration limits its scopes to mcp:read mcp:tools"],
    );
}

/// A scope the resource does not offer: the hint lists what it offers.
async fn a_scope_the_resource_does_not_offer(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![Resource::with_scopes(RESOURCE, &["mcp:tools", "mcp:read"])];
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let event = refused_by_redirect(
        &app,
        &client.client_id,
        &[("scope", "mcp:admin")],
        "invalid_scope",
    )
    .await;
    let offered = event["expected"].as_str().unwrap().to_owned();
    let mut listed: Vec<&str> = offered.split(' ').collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        ["mcp:read", "mcp:tools", "offline_access", "openid"]
    );
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_scope",
        "AZ-17",
        Some((&offered, "mcp:admin")),
    );
    says(
        &hint,
        &[
            &format!("ask only for scopes the resource offers ({offered})"),
            "scopes_supported",
        ],
    );
}

/// HTTP Basic credentials whose secret was not form-encoded before base64.
async fn a_basic_secret_that_is_not_form_encoded(backend: Backend) {
    const SECRET: &str = "p+ss%word: 100%";
    let app = TestApp::builder(backend)
        .config(|c| {
            c.clients = vec![DeclaredClient::confidential("encoding-client", SECRET)];
        })
        .spawn()
        .await;
    let response = app
        .client_credentials("encoding-client", Some(SECRET), &[])
        .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let event = app.last_event("token.request").await;
    assert_eq!(event["client_id"], "encoding-client");
    assert_eq!(
        event["details"]["client_authentication"],
        "client_secret_basic"
    );
    let hint = refusal(&event, "token.request", "invalid_client", "TK-10", None);
    says(
        &hint,
        &[
            "the Basic credentials were not form-encoded before base64",
            "application/x-www-form-urlencoded",
        ],
    );
    assert!(
        !event.to_string().contains(SECRET),
        "the secret is recorded"
    );
}

/// Requests to URLs a client built wrong: the metadata URL of an issuer with a trailing
/// slash (MD-3), protected resource metadata asked of the authorization server, a
/// metadata URL with the path in the wrong place (MD-9), an endpoint under a wrong path.
async fn misdirected_urls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let issuer = app.issuer.clone();
    let metadata = format!("{issuer}/.well-known/oauth-authorization-server");
    for (path, rule, words) in [
        (
            "/.well-known/oauth-authorization-server/",
            Some("MD-3"),
            vec![
                format!("built from the issuer with a trailing slash, '{issuer}/'"),
                format!("the issuer is '{issuer}' without one"),
                "authorization_servers in the protected resource metadata must name it \
                 character for character"
                    .to_owned(),
                format!("The metadata is at {metadata}"),
            ],
        ),
        (
            "/.well-known/oauth-protected-resource/mcp",
            None,
            vec![
                "protected resource metadata (RFC 9728), which the MCP server publishes, not \
                 the authorization server"
                    .to_owned(),
                format!("whose metadata is at {metadata}"),
            ],
        ),
        (
            "/mcp/.well-known/oauth-authorization-server",
            Some("MD-9"),
            vec![
                "no metadata for an issuer with the path '/mcp'".to_owned(),
                format!("its metadata is at {metadata}"),
            ],
        ),
        (
            "/oauth/token",
            None,
            vec![
                "there is no endpoint at /oauth/token".to_owned(),
                format!("the token endpoint is most likely {issuer}/token"),
            ],
        ),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let event = app.last_event("request.unknown_path").await;
        assert_eq!(event["details"]["path"], path);
        assert_eq!(event["outcome"], "rejected");
        assert_eq!(event["rule"]["id"].as_str(), rule, "{path}");
        let hint = hint_of(&event);
        says(&hint, &words.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

/// A client id that looks like a metadata document URL while `cimd.enabled` is off: the
/// event and the page say so, and do not send the developer off to register.
async fn a_document_url_while_documents_are_off(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.cimd.enabled = false)
        .spawn()
        .await;
    for (client_id, turn_on) in [
        (
            "https://app.example/oauth/client.json",
            "turn cimd.enabled on",
        ),
        (
            "http://127.0.0.1:3000/client.json",
            "turn on cimd.enabled and cimd.allow_http_loopback",
        ),
    ] {
        let response = app
            .get_authorize(&app.authorize_params(client_id, &[]))
            .await;
        let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
        let event = app.last_event("authorization.request").await;
        assert_eq!(event["client_id"], client_id);
        let hint = refusal(
            &event,
            "authorization.request",
            "invalid_client",
            "AZ-5",
            None,
        );
        says(
            &hint,
            &[
                "looks like the URL of a Client ID Metadata Document",
                "this server does not accept them (cimd.enabled is false)",
                turn_on,
            ],
        );
        for words in [
            "looks like the URL of a Client ID Metadata Document",
            "cimd.enabled is false",
            turn_on,
        ] {
            assert!(
                page.contains(words),
                "the page should say '{words}':\n{page}"
            );
        }
        assert!(!page.contains("register it first"), "{page}");
        assert!(!event.to_string().contains("register it first"), "{event}");
    }
}

/// An `http://127.0.0.1/...` client id while `cimd.allow_http_loopback` is off.
async fn an_http_document_url_without_http_loopback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client_id = "http://127.0.0.1:3000/client.json";
    let response = app
        .get_authorize(&app.authorize_params(client_id, &[]))
        .await;
    let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    let event = app.last_event("authorization.request").await;
    let hint = refusal(
        &event,
        "authorization.request",
        "invalid_client",
        "AZ-5",
        None,
    );
    says(
        &hint,
        &[
            "looks like the URL of a Client ID Metadata Document on http",
            "accepts http document URLs only with cimd.allow_http_loopback",
        ],
    );
    for words in [
        "looks like the URL of a Client ID Metadata Document on http",
        "only with cimd.allow_http_loopback",
    ] {
        assert!(
            page.contains(words),
            "the page should say '{words}':\n{page}"
        );
    }
    assert!(!page.contains("register it first"), "{page}");
    // An http URL on another host would not do even with it on.
    let remote = "http://app.example/client.json";
    let response = app.get_authorize(&app.authorize_params(remote, &[])).await;
    let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    let hint = hint_of(&app.last_event("authorization.request").await);
    says(&hint, &["documents are fetched over https only"]);
    assert!(
        page.contains("documents are fetched over https only"),
        "{page}"
    );
    // The token endpoint says the same.
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", client_id),
        ])
        .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let event = app.last_event("token.request").await;
    let hint = refusal(&event, "token.request", "invalid_client", "TK-9", None);
    says(&hint, &["only with cimd.allow_http_loopback"]);
}

/// Introspection answers `{"active":false}` for an expired and a revoked token; the event
/// says which it was and when.
async fn expired_and_revoked_tokens_at_introspection(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.access_token_ttl = Duration::from_secs(60))
        .with_resource_server()
        .spawn()
        .await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    let exp = jwt_payload(access)["exp"].as_i64().unwrap();
    app.clock.advance(90);
    assert_eq!(
        app.introspect(&resource_server, access).await,
        json!({"active": false})
    );
    let event = app.last_event("token.introspect").await;
    assert_eq!(event["outcome"], "ok");
    assert_eq!(event["details"]["active"], false);
    assert_eq!(event["details"]["token"], "expired_access_token");
    assert_eq!(
        hint_of(&event),
        format!(
            "this access token expired 30 s ago (exp {exp}); ask for a new one with the \
             refresh token"
        )
    );

    let tokens = app.tokens(&client.client_id).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.revoke(&client.client_id, access).await.status(),
        StatusCode::OK
    );
    app.clock.advance(12);
    assert_eq!(
        app.introspect(&resource_server, access).await,
        json!({"active": false})
    );
    let event = app.last_event("token.introspect").await;
    assert_eq!(event["details"]["token"], "access_token");
    assert_eq!(event["details"]["active"], false);
    assert_eq!(hint_of(&event), "this access token was revoked 12 s ago");
}

/// A registration access token used again after a read rotated it (RFC 7592 §5).
async fn a_registration_access_token_reused_after_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let (uri, token) = client.management();
    client_information(app.read_client(&uri, &token).await).await;
    let response = app.read_client(&uri, &token).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let event = app.last_event("client.read").await;
    assert_eq!(event["client_id"], json!(client.client_id));
    let hint = refusal(&event, "client.read", "invalid_token", "OPT-3", None);
    says(
        &hint,
        &[
            "each GET and PUT answers with a new registration_access_token and retires the \
             one used (RFC 7592 §5)",
            "keep the newest one",
        ],
    );
}

on_both_backends!(
    localhost_is_not_127_0_0_1,
    a_trailing_slash_in_a_redirect_uri,
    a_trailing_slash_in_a_resource,
    a_default_port_written_out,
    http_where_https_was_registered,
    only_loopback_redirect_uris_may_change_their_port,
    a_loopback_port_that_changed_before_the_token_request,
    a_resource_spelled_differently_at_the_token_endpoint,
    a_pkce_verifier_of_another_flow,
    a_plain_pkce_challenge,
    a_code_used_after_its_60_seconds,
    a_code_used_twice,
    a_refresh_token_used_twice,
    a_scope_the_client_may_not_ask_for,
    a_scope_the_resource_does_not_offer,
    a_basic_secret_that_is_not_form_encoded,
    misdirected_urls,
    a_document_url_while_documents_are_off,
    an_http_document_url_without_http_loopback,
    expired_and_revoked_tokens_at_introspection,
    a_registration_access_token_reused_after_rotation,
);
