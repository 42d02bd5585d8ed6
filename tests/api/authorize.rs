//! The authorization endpoint and the consent page (AZ-1..AZ-22).

use crate::helpers::{
    Backend, CALLBACK, CHALLENGE, Callback, ConsentForm, RESOURCE, TestApp, VERIFIER,
    assert_console_link, assert_error_page, hidden_field, jwt_payload, visible,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

/// Asserts an error redirect to exactly `CALLBACK` with the error, a description, the
/// standard request's state and `iss` (AZ-20), and nothing else.
pub(crate) fn assert_error_redirect(
    app: &TestApp,
    response: &reqwest::Response,
    error: &str,
) -> Callback {
    let callback = assert_error_redirect_with(app, response, error, Some("st1"));
    assert_eq!(callback.one("state"), "st1");
    callback
}

/// Like [`assert_error_redirect`], for a request whose state is `state` (`None`: no state
/// comes back).
fn assert_error_redirect_with(
    app: &TestApp,
    response: &reqwest::Response,
    error: &str,
    state: Option<&str>,
) -> Callback {
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(response);
    let mut names = vec!["error", "error_description", "error_uri", "iss"];
    names.extend(state.map(|_| "state"));
    callback.assert_redirects_to(CALLBACK, &names);
    assert_console_link(app, &callback);
    assert_eq!(callback.one("error"), error, "{:?}", callback.params);
    assert!(!callback.one("error_description").is_empty());
    assert_eq!(callback.one("iss"), app.issuer);
    assert_eq!(callback.get("state").as_deref(), state);
    callback
}

/// AZ-1, AZ-2, AZ-11, AZ-12, AZ-20, AZ-21: the consent page comes first, then a 303 with
/// exactly one code, the state and the issuer.
async fn az_1_consent_then_code_state_and_iss(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "AZ-2: the user sees a page first"
    );
    let callback = app.approve(&client.client_id, &[]).await;
    callback.assert_redirects_to(CALLBACK, &["code", "state", "iss"]);
    assert!(!callback.one("code").is_empty());
    assert_eq!(callback.one("state"), "st1");
    assert_eq!(callback.one("iss"), app.issuer);
    assert!(callback.get("error").is_none());
}

/// AZ-3: the redirect URI must match exactly; a mismatch is shown, never redirected, and
/// the page names the registered URIs.
async fn az_3_redirect_uri_must_match_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for bad in [
        "http://127.0.0.1:53682/callbackX",
        "http://127.0.0.1:53682/Callback",
        "http://127.0.0.1:53682/callback?x=1",
        "http://127.0.0.1:53682/callback#frag",
        "http://localhost:53682/callback",
        "https://evil.example/callback",
    ] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("redirect_uri", bad)]))
            .await;
        let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
        // The page quotes the URI sent and, after it, the registered one (HTML-escaped).
        let sent = bad.replace('&', "&amp;");
        assert!(
            page.contains(&format!(
                "redirect_uri &#39;{sent}&#39; is not registered for this client; \
                 registered: &#39;{CALLBACK}&#39;."
            )),
            "the page names the URI sent and the registered one: {bad}\n{page}"
        );
    }
}

/// AZ-4: any port on a loopback redirect URI, for 127.0.0.1 and [::1].
async fn az_4_loopback_redirect_ports_may_vary(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let callback = app
        .approve(
            &client.client_id,
            &[("redirect_uri", "http://127.0.0.1:61000/callback")],
        )
        .await;
    callback.assert_redirects_to("http://127.0.0.1:61000/callback", &["code", "state", "iss"]);
    let code = callback.one("code");
    // The code is bound to the URI actually used.
    let response = app
        .exchange(
            &client.client_id,
            &code,
            &[("redirect_uri", "http://127.0.0.1:61000/callback")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let v6 = app
        .register_ok(&json!({
            "redirect_uris": ["http://[::1]:1234/cb"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let callback = app
        .approve(&v6.client_id, &[("redirect_uri", "http://[::1]:4321/cb")])
        .await;
    callback.assert_redirects_to("http://[::1]:4321/cb", &["code", "state", "iss"]);
}

/// AZ-5: an unknown or missing client_id is shown to the user, never redirected.
async fn az_5_unknown_client_is_an_error_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .get_authorize(&app.authorize_params("no-such-client", &[]))
        .await;
    let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("no-such-client"));
    let response = app
        .get_authorize(&app.authorize_params("x", &[("client_id", "")]))
        .await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
}

/// AZ-6, AZ-7, AZ-9: PKCE S256 is required; missing, plain and unknown methods are
/// refused with invalid_request.
async fn az_6_az_7_az_9_pkce_s256_is_required(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for changes in [
        vec![("code_challenge", "")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge_method", "S512")],
        vec![
            ("code_challenge_method", "plain"),
            ("code_challenge", VERIFIER),
        ],
    ] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &changes))
            .await;
        assert_error_redirect(&app, &response, "invalid_request");
    }
}

/// AZ-10: only response_type=code.
async fn az_10_only_the_code_response_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("response_type", "token")]))
        .await;
    assert_error_redirect(&app, &response, "unsupported_response_type");
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("response_type", "")]))
        .await;
    assert_error_redirect(&app, &response, "invalid_request");
}

/// AZ-11: state comes back exactly, once.
async fn az_11_state_is_echoed_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let callback = app
        .approve(&client.client_id, &[("state", "a b+c/=&é")])
        .await;
    assert_eq!(callback.one("state"), "a b+c/=&é");
}

/// AZ-13, AZ-14: unknown parameters are ignored, repeated ones refused, empty ones count
/// as absent.
async fn az_13_az_14_unknown_repeated_and_empty_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    app.approve(&client.client_id, &[("+foo", "bar")])
        .await
        .one("code");
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("+state", "st2")]))
        .await;
    // A repeated state cannot be echoed.
    assert_error_redirect_with(&app, &response, "invalid_request", None);
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("+code_challenge", CHALLENGE)]))
        .await;
    assert_error_redirect(&app, &response, "invalid_request");
    // An empty scope is no scope.
    let tokens = {
        let code = app
            .approve(&client.client_id, &[("scope", ""), ("+scope", "")])
            .await
            .one("code");
        app.redeem(&client.client_id, &code)
            .await
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    assert!(
        jwt_payload(tokens["access_token"].as_str().unwrap())
            .get("scope")
            .is_none()
    );
}

/// AZ-15, TK-15: malformed and unknown resources are invalid_target; no token is minted
/// for a resource the server does not serve.
async fn az_15_resource_indicators_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for bad in ["mcp.example.com", "http://127.0.0.1:8000/mcp#x", "/mcp"] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("resource", bad)]))
            .await;
        assert_error_redirect(&app, &response, "invalid_target");
    }
    let strict = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource::with_scopes(
                RESOURCE,
                &[],
            )]
        })
        .spawn()
        .await;
    let client = strict.public_client().await;
    let response = strict
        .get_authorize(&strict.authorize_params(
            &client.client_id,
            &[("resource", "http://127.0.0.1:8001/other")],
        ))
        .await;
    let callback = assert_error_redirect(&strict, &response, "invalid_target");
    assert!(callback.one("error_description").contains(RESOURCE));
    strict.approve(&client.client_id, &[]).await.one("code");
}

/// AZ-16, AZ-17: no resource and no scope still work; the token gets the default audience.
async fn az_16_az_17_no_resource_and_no_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let code = app
        .approve(&client.client_id, &[("resource", ""), ("scope", "")])
        .await
        .one("code");
    let response = app.exchange(&client.client_id, &code, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    let claims = jwt_payload(body["access_token"].as_str().unwrap());
    // Without configured resources the default audience is the issuer itself.
    assert_eq!(claims["aud"], app.issuer);
}

/// AZ-17 and RFC 6749 §3.3: a request that names no scope gets the resource's configured
/// default scope (here `mcp:tools`, not `mcp:admin`), in the code flow and in
/// client_credentials alike; a named scope is taken as named.
async fn az_17_a_missing_scope_gets_the_resource_default(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource {
                default_scopes: vec!["mcp:tools".to_owned()],
                ..tollgate::oauth::resource::Resource::with_scopes(
                    RESOURCE,
                    &["mcp:tools", "mcp:admin"],
                )
            }]
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let scope_of = |body: &serde_json::Value| {
        jwt_payload(body["access_token"].as_str().unwrap())["scope"].clone()
    };
    let body = app.tokens_with(&client.client_id, &[("scope", "")]).await;
    assert_eq!(body["scope"], "mcp:tools");
    assert_eq!(scope_of(&body), "mcp:tools");
    let body = app
        .tokens_with(&client.client_id, &[("scope", "mcp:admin")])
        .await;
    assert_eq!(scope_of(&body), "mcp:admin");

    let machine = app
        .register_ok(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .await;
    let body: serde_json::Value = app
        .client_credentials(
            &machine.client_id,
            machine.client_secret.as_deref(),
            &[("resource", RESOURCE)],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(scope_of(&body), "mcp:tools", "{body}");
}

/// AZ-17 with configured scopes: an unknown scope is refused with the offered list.
async fn az_17_unknown_scopes_are_refused_when_scopes_are_configured(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource {
                default: true,
                ..tollgate::oauth::resource::Resource::with_scopes(RESOURCE, &["mcp:tools"])
            }]
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(
            &app.authorize_params(&client.client_id, &[("scope", "mcp:tools files:write")]),
        )
        .await;
    let callback = assert_error_redirect(&app, &response, "invalid_scope");
    let description = callback.one("error_description");
    assert!(description.contains("files:write") && description.contains("mcp:tools"));
    // No resource: the configured default is the audience.
    let code = app
        .approve(&client.client_id, &[("resource", "")])
        .await
        .one("code");
    let response = app.exchange(&client.client_id, &code, &[]).await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["aud"],
        RESOURCE
    );
}

/// AZ-18, AZ-19: prompt=consent with offline_access, and step-up to a larger scope set.
async fn az_18_az_19_offline_access_and_step_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let body = app
        .tokens_with(
            &client.client_id,
            &[("scope", "mcp:tools offline_access"), ("prompt", "consent")],
        )
        .await;
    assert_eq!(body["scope"], "mcp:tools offline_access");
    // offline_access is about the authorization server, not the MCP server.
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["scope"],
        "mcp:tools"
    );
    assert!(body["refresh_token"].is_string());
    let body = app
        .tokens_with(&client.client_id, &[("scope", "mcp:tools files:write")])
        .await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["scope"],
        "mcp:tools files:write"
    );

    // A client that did not register the refresh_token grant is not granted offline
    // access, and the response says so.
    let no_refresh = app
        .register_ok(&json!({
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"]
        }))
        .await;
    let body = app
        .tokens_with(
            &no_refresh.client_id,
            &[("scope", "mcp:tools offline_access")],
        )
        .await;
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["scope"], "mcp:tools");
}

/// AZ-22: the consent page names the client, the redirect host, the scopes and the
/// resource, warns about a loopback redirect, escapes client input and cannot be framed.
async fn az_22_consent_page_content_and_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app
        .register_ok(&json!({
            "client_name": "<script>alert(1)</script> Tools",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("alert(1)") && html.contains(" Tools"));
    assert!(!html.contains("<script>"), "client names are escaped");
    assert!(
        html.contains("sent back to <strong>127.0.0.1</strong>"),
        "redirect host"
    );
    assert!(html.contains("mcp:tools"));
    assert!(visible(&html).contains(RESOURCE));
    assert!(
        html.contains("program on this computer"),
        "loopback warning"
    );
    assert!(html.contains(&client.client_id));

    // A redirect off this machine: its host is named, and no loopback warning is given.
    let remote = app
        .register_ok(&json!({
            "client_name": "Remote app",
            "redirect_uris": ["https://app.example.net/oauth/callback"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let html = app
        .consent_form(&app.authorize_params(
            &remote.client_id,
            &[("redirect_uri", "https://app.example.net/oauth/callback")],
        ))
        .await
        .html;
    assert!(
        html.contains("sent back to <strong>app.example.net</strong>"),
        "redirect host: {html}"
    );
    assert!(!html.contains("program on this computer"));
}

/// AZ-19 with configured scopes: a client holding a grant for one scope asks again for the
/// union; the consent page shows the new scope and the new token carries both.
async fn az_19_step_up_to_a_larger_configured_scope_set(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![tollgate::oauth::resource::Resource::with_scopes(
                RESOURCE,
                &["mcp:tools", "files:write"],
            )]
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let first = app.tokens(&client.client_id).await;
    assert_eq!(first["scope"], "mcp:tools");
    let step_up = app.authorize_params(&client.client_id, &[("scope", "mcp:tools files:write")]);
    let form = app.consent_form(&step_up).await;
    assert!(form.html.contains("files:write"), "{}", form.html);
    let body = app
        .tokens_with(&client.client_id, &[("scope", "mcp:tools files:write")])
        .await;
    assert_eq!(body["scope"], "mcp:tools files:write");
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["scope"],
        "mcp:tools files:write"
    );
    // The configuration is what allows the union: a scope it does not offer is refused.
    let response = app
        .get_authorize(
            &app.authorize_params(&client.client_id, &[("scope", "mcp:tools mcp:admin")]),
        )
        .await;
    assert_error_redirect(&app, &response, "invalid_scope");
}

/// AZ-23 (OAuth 2.1 §7.12.2): an error found before consent is not sent automatically to
/// a redirect URI anyone could have registered. The page shows it and offers the way back
/// as a link; a client the operator declared is still redirected at once.
async fn az_23_no_open_redirect_for_self_registered_clients(backend: Backend) {
    const EVIL: &str = "https://evil.example/cb";
    let app = TestApp::builder(backend)
        .config(|c| {
            c.clients = vec![tollgate::config::DeclaredClient::public(
                "declared",
                &[EVIL],
            )];
        })
        .spawn()
        .await;
    let registered = app
        .register_ok(&json!({
            "redirect_uris": [EVIL],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let without_pkce = [("redirect_uri", EVIL), ("code_challenge", "")];

    let response = app
        .get_authorize(&app.authorize_params(&registered.client_id, &without_pkce))
        .await;
    let html = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    assert!(html.contains("invalid_request"), "{html}");
    assert!(html.contains("Return to evil.example"), "{html}");
    let link = html
        .split(r#"<a href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link back to the client")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let link = Callback::from_url(url::Url::parse(&link).unwrap());
    link.assert_redirects_to(EVIL, &["error", "error_description", "state", "iss"]);
    assert_eq!(link.one("error"), "invalid_request");
    assert_eq!(link.one("state"), "st1");
    assert_eq!(link.one("iss"), app.issuer);

    let response = app
        .get_authorize(&app.authorize_params("declared", &without_pkce))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = Callback::from_response(&response);
    callback.assert_redirects_to(
        EVIL,
        &["error", "error_description", "error_uri", "state", "iss"],
    );
    assert_eq!(callback.one("error"), "invalid_request");
}

/// The user chooser: `dev` plus configured users; the chosen user is the token subject.
async fn consent_user_chooser_sets_the_subject(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.users = vec![tollgate::config::User {
                name: Some("Alice Example".to_owned()),
                ..tollgate::config::User::named("alice")
            }]
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert!(form.html.contains(r#"value="dev""#));
    assert!(form.html.contains(r#"value="alice""#) && form.html.contains("Alice Example"));
    let response = app.decide(&form, "approve", "alice").await;
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(
        jwt_payload(body["access_token"].as_str().unwrap())["sub"],
        "alice"
    );
    // A user who does not exist cannot be chosen.
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let response = app.decide(&form, "approve", "mallory").await;
    assert_error_page(response, StatusCode::BAD_REQUEST).await;
}

/// Deny: access_denied with state and iss, by 303.
async fn deny_redirects_with_access_denied(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    let response = app.decide(&form, "deny", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("error"), "access_denied");
    assert_eq!(callback.one("state"), "st1");
    assert_eq!(callback.one("iss"), app.issuer);
    assert!(callback.get("code").is_none());
}

/// CSRF: the decision needs the form's token and the browser cookie of the page; a form
/// cannot be used twice.
async fn consent_form_is_csrf_protected_and_single_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;

    // Another browser (no cookie) posting the victim's form.
    let response = app.approve_from_another_browser(&form).await;
    let page = assert_error_page(response, StatusCode::FORBIDDEN).await;
    assert!(page.contains("CSRF"));

    // The right browser with a forged token.
    let mut forged = form.clone();
    forged.csrf_token = "A".repeat(43);
    let page = assert_error_page(
        app.decide(&forged, "approve", "dev").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(page.contains("CSRF"));

    // The genuine form still works once, and only once.
    let response = app.decide(&form, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = assert_error_page(
        app.decide(&form, "approve", "dev").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(page.contains("already submitted"));
}

/// A pending consent form expires. Sent back late from its own browser, it is shown again,
/// renewed (new request id, new CSRF token), for the same request; from another browser it
/// stays refused, and the renewed form is single-use like any other.
async fn consent_form_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let form = app
        .consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    app.clock.advance(11 * 60);

    // Another browser (no cookie) gets nothing from the expired form.
    let response = app.approve_from_another_browser(&form).await;
    let page = assert_error_page(response, StatusCode::FORBIDDEN).await;
    assert!(page.contains("This form can no longer be used"), "{page}");
    assert!(!page.contains(r#"name="request_id""#), "{page}");

    // Its own browser with a forged token gets nothing either.
    let mut forged = form.clone();
    forged.csrf_token = "A".repeat(43);
    let page = assert_error_page(
        app.decide(&forged, "approve", "dev").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(page.contains("expired"), "{page}");
    assert!(!page.contains(r#"name="request_id""#), "{page}");

    // The genuine form, late: the consent page again, renewed, with the reason.
    let late = app.decide(&form, "approve", "dev").await;
    assert_eq!(late.status(), StatusCode::OK);
    let html = late.text().await.unwrap();
    assert!(html.contains("This form had expired"), "{html}");
    let renewed = ConsentForm {
        request_id: hidden_field(&html, "request_id"),
        csrf_token: hidden_field(&html, "csrf_token"),
        html,
    };
    assert_ne!(renewed.request_id, form.request_id);
    assert_ne!(renewed.csrf_token, form.csrf_token);
    let response = app.decide(&renewed, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = Callback::from_response(&response);
    assert_eq!(callback.one("state"), "st1");
    let tokens = app.redeemed(&client.client_id, &callback.one("code")).await;
    assert_eq!(
        jwt_payload(tokens["access_token"].as_str().unwrap())["sub"],
        "dev"
    );
    let page = assert_error_page(
        app.decide(&renewed, "approve", "dev").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(page.contains("already submitted"), "{page}");
}

/// A client that did not register the authorization_code grant cannot use it.
async fn clients_without_the_code_grant_are_unauthorized(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app
        .register_ok(&json!({
            "redirect_uris": [CALLBACK],
            "grant_types": ["refresh_token"],
            "response_types": [],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[]))
        .await;
    assert_error_redirect(&app, &response, "unauthorized_client");
}

on_both_backends!(
    az_1_consent_then_code_state_and_iss,
    az_3_redirect_uri_must_match_exactly,
    az_4_loopback_redirect_ports_may_vary,
    az_5_unknown_client_is_an_error_page,
    az_6_az_7_az_9_pkce_s256_is_required,
    az_10_only_the_code_response_type,
    az_11_state_is_echoed_exactly,
    az_13_az_14_unknown_repeated_and_empty_parameters,
    az_15_resource_indicators_are_validated,
    az_16_az_17_no_resource_and_no_scope,
    az_17_a_missing_scope_gets_the_resource_default,
    az_17_unknown_scopes_are_refused_when_scopes_are_configured,
    az_18_az_19_offline_access_and_step_up,
    az_19_step_up_to_a_larger_configured_scope_set,
    az_22_consent_page_content_and_headers,
    az_23_no_open_redirect_for_self_registered_clients,
    consent_user_chooser_sets_the_subject,
    deny_redirects_with_access_denied,
    consent_form_is_csrf_protected_and_single_use,
    consent_form_expires,
    clients_without_the_code_grant_are_unauthorized,
);
