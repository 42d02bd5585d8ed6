//! Native apps' redirect URIs (RFC 8252 §7.1; DCR-3): private-use schemes such as Cursor's
//! `cursor://` are accepted by default and matched exactly; dangerous schemes never are;
//! `registration.redirect_schemes = "mcp-strict"` restores the MCP text's rule.

use crate::helpers::{
    Backend, CALLBACK, Callback, RESOURCE, TestApp, TestDb, assert_error_page, assert_oauth_error,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;
use tollgate::oauth::redirect_uri::RedirectSchemes;

/// Cursor 3.2.16's redirect URI (see tests/fixtures/clients/cursor.json).
const CURSOR: &str = "cursor://anysphere.cursor-mcp/oauth/callback";

fn cursor_registration() -> serde_json::Value {
    json!({
        "redirect_uris": [CURSOR, "https://www.cursor.com/agents/mcp/oauth/callback",
                          "http://localhost:8787/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Cursor"
    })
}

/// DCR-3, AZ-3: Cursor registers its `cursor://` URI, is sent back to it with the code, and
/// redeems the code with it; the consent page says the redirect goes to an application on
/// this computer.
async fn dcr_3_a_private_use_scheme_completes_the_flow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register_ok(&cursor_registration()).await;
    assert_eq!(client.body["redirect_uris"][0], CURSOR);
    let params = app.authorize_params(&client.client_id, &[("redirect_uri", CURSOR)]);
    let form = app.consent_form(&params).await;
    assert!(
        form.html.contains("an application on this computer"),
        "the consent page says where the browser goes"
    );
    assert!(form.html.contains("<code>cursor:</code>"), "{}", form.html);
    let response = app.decide(&form, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = Callback::from_response(&response);
    callback.assert_redirects_to(CURSOR, &["code", "state", "iss"]);
    let code = callback.one("code");
    let tokens = app
        .exchange(
            &client.client_id,
            &code,
            &[("redirect_uri", CURSOR), ("resource", RESOURCE)],
        )
        .await;
    assert_eq!(tokens.status(), StatusCode::OK);
}

/// AZ-3: a private-use redirect URI is matched character for character, like any other;
/// near misses are shown, never redirected to.
async fn az_3_private_use_uris_match_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register_ok(&cursor_registration()).await;
    for near in [
        "cursor://anysphere.cursor-mcp/oauth/callback/",
        "cursor://anysphere.cursor-mcp/oauth/callbackX",
        "cursor://anysphere.cursor-mcp:1/oauth/callback",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "vscode://anysphere.cursor-mcp/oauth/callback",
    ] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("redirect_uri", near)]))
            .await;
        assert_error_page(response, StatusCode::BAD_REQUEST).await;
    }
}

/// AZ-23: an error found before consent is not sent to an application's scheme on its
/// own: anyone can register one. The page offers the way back as a link.
async fn az_23_errors_before_consent_are_not_sent_to_an_app_scheme(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.register_ok(&cursor_registration()).await;
    let response = app
        .get_authorize(&app.authorize_params(
            &client.client_id,
            &[("redirect_uri", CURSOR), ("code_challenge_method", "plain")],
        ))
        .await;
    let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    assert!(
        page.contains("cursor://anysphere.cursor-mcp/oauth/callback?error=invalid_request"),
        "{page}"
    );
}

/// DCR-3: schemes that run code or open files in the browser, and http off loopback, are
/// refused whatever the setting, naming the rule.
async fn dcr_3_dangerous_schemes_are_always_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in [
        "javascript:alert(1)",
        "javascript://cursor.example/%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file:///etc/passwd",
        "vbscript://x/msgbox",
        "http://evil.example/callback",
        "myapp:callback",
    ] {
        let response = app
            .register(&json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}))
            .await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
        assert!(
            description.contains(bad.split(':').next().unwrap()),
            "{description}"
        );
    }
}

/// DCR-3: with `registration.redirect_schemes = "mcp-strict"`, private-use schemes are
/// refused at registration, and the refusal names the setting; https and loopback http
/// still register.
async fn dcr_3_mcp_strict_refuses_private_use_schemes_and_says_why(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.registration.redirect_schemes = RedirectSchemes::McpStrict)
        .spawn()
        .await;
    let response = app.register(&cursor_registration()).await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
    assert!(
        description.contains("registration.redirect_schemes is 'mcp-strict'"),
        "{description}"
    );
    assert!(description.contains(CURSOR), "{description}");
    app.register_ok(&json!({
        "redirect_uris": [CALLBACK, "https://app.example.com/cb"],
        "token_endpoint_auth_method": "none"
    }))
    .await;
}

/// A client registered while native schemes were accepted keeps its registration, but after
/// a restart with "mcp-strict" its `cursor://` URI is no longer redirected to; the page
/// names the setting.
async fn az_3_mcp_strict_stops_using_stored_private_use_uris(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::builder(backend).on_db(db.clone()).spawn().await;
    let client = app.register_ok(&cursor_registration()).await;
    app.stop().await;
    let app = TestApp::builder(backend)
        .on_db(db)
        .config(|c| c.registration.redirect_schemes = RedirectSchemes::McpStrict)
        .spawn()
        .await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("redirect_uri", CURSOR)]))
        .await;
    let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("registration.redirect_schemes"), "{page}");
    let events = app
        .events_of_type(&client.client_id, "authorization.request")
        .await;
    let refused = events.last().unwrap();
    assert_eq!(refused["outcome"], "rejected");
    assert_eq!(refused["rule"]["id"], "DCR-3");
    // Its loopback URI still works.
    let callback = app
        .approve(
            &client.client_id,
            &[("redirect_uri", "http://localhost:8787/callback")],
        )
        .await;
    assert!(!callback.one("code").is_empty());
}

on_both_backends!(
    dcr_3_a_private_use_scheme_completes_the_flow,
    az_3_private_use_uris_match_exactly,
    az_23_errors_before_consent_are_not_sent_to_an_app_scheme,
    dcr_3_dangerous_schemes_are_always_refused,
    dcr_3_mcp_strict_refuses_private_use_schemes_and_says_why,
    az_3_mcp_strict_stops_using_stored_private_use_uris,
);
