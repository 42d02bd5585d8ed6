//! Fine-grained scopes (issue 17): colon paths, where a scope covers the ones below it and a
//! last `*` stands for one segment (checklist AZ-17, TK-17, SCP-1); per-user scope policy
//! (SCP-2); unticking optional scopes on the consent page (SCP-3).

use crate::authorize::assert_error_redirect;
use crate::helpers::{Backend, CALLBACK, RESOURCE, TestApp, assert_oauth_error, jwt_payload};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use tollgate::config::DeclaredClient;
use tollgate::oauth::resource::Resource;

/// The weather server of the examples: a tree with a wildcard.
fn tree() -> Resource {
    Resource {
        default: true,
        ..Resource::with_scopes(RESOURCE, &["mcp:tools", "mcp:exec:workflows:*"])
    }
}

fn scope_claim(body: &Value) -> Value {
    jwt_payload(body["access_token"].as_str().unwrap())["scope"].clone()
}

/// SCP-1, AZ-17: a resource's scope covers the scopes below it, and the token carries the
/// scope as requested, not the allowance that covered it.
async fn scp_1_a_token_carries_what_was_requested_under_the_tree(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.resources = vec![tree()])
        .spawn()
        .await;
    let client = app.public_client().await;
    for asked in [
        "mcp:tools:weather",
        "mcp:tools",
        "mcp:tools:weather:read mcp:exec:workflows:deploy",
        // Below the one segment a wildcard stands for.
        "mcp:exec:workflows:deploy:prod",
        // A wildcard is a scope like any other.
        "mcp:exec:workflows:*",
    ] {
        let body = app
            .tokens_with(&client.client_id, &[("scope", asked)])
            .await;
        assert_eq!(scope_claim(&body), asked);
        // Granted as requested, so RFC 6749 §5.1 lets the response leave `scope` out; when
        // it is there, it says the same.
        if let Some(scope) = body.get("scope") {
            assert_eq!(scope, asked);
        }
    }
    // Not above the tree, and not the node a wildcard hangs from.
    for refused in ["mcp", "mcp:exec:workflows", "mcp:exec:jobs:x"] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("scope", refused)]))
            .await;
        let callback = assert_error_redirect(&app, &response, "invalid_scope");
        let description = callback.one("error_description");
        assert!(
            description.starts_with(&format!("scope {refused} is not offered")),
            "{description}"
        );
        assert!(
            description.contains("mcp:exec:workflows:*"),
            "{description}"
        );
    }
}

/// SCP-1: a malformed scope path is `invalid_scope` naming the token and what is wrong.
async fn scp_1_malformed_scope_paths_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for (bad, why) in [
        ("mcp::tools", "has an empty segment (segment 2)"),
        ("mcp:tools:", "has an empty segment (segment 3)"),
        ("mcp:*:read", "has '*' as segment 2 of 3"),
        ("mcp:tool*", "has '*' inside the segment 'tool*'"),
    ] {
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("scope", bad)]))
            .await;
        let callback = assert_error_redirect(&app, &response, "invalid_scope");
        let description = callback.one("error_description");
        assert!(
            description.starts_with(&format!("scope token '{bad}' {why}")),
            "{description}"
        );
    }
    // At the token endpoint too.
    let machine = app
        .register_ok(&serde_json::json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .await;
    let response = app
        .client_credentials(
            &machine.client_id,
            machine.client_secret.as_deref(),
            &[("scope", ":mcp")],
        )
        .await;
    let description = assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(
        description.starts_with("scope token ':mcp' has an empty segment (segment 1)"),
        "{description}"
    );
}

/// AZ-17: a client's allowed scopes cover by the same rule, in the code flow and in
/// client_credentials.
async fn az_17_a_clients_allowance_covers_narrower_scopes(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            let mut browser = DeclaredClient::public("weather-app", &[CALLBACK]);
            browser.scopes = vec!["mcp:tools:*".to_owned()];
            let mut machine = DeclaredClient::confidential("weather-job", "weather-secret");
            machine.scopes = vec!["mcp:tools:weather".to_owned()];
            c.clients.extend([browser, machine]);
            c.resources = vec![tree()];
        })
        .spawn()
        .await;
    let body = app
        .tokens_with("weather-app", &[("scope", "mcp:tools:weather:read")])
        .await;
    assert_eq!(scope_claim(&body), "mcp:tools:weather:read");
    let response = app
        .get_authorize(&app.authorize_params("weather-app", &[("scope", "mcp:tools")]))
        .await;
    let callback = assert_error_redirect(&app, &response, "invalid_scope");
    let description = callback.one("error_description");
    assert!(
        description
            .starts_with("this client may not ask for mcp:tools; it is allowed: mcp:tools:*"),
        "{description}"
    );

    let ok = app
        .client_credentials(
            "weather-job",
            Some("weather-secret"),
            &[("scope", "mcp:tools:weather:forecast")],
        )
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(scope_claim(&body), "mcp:tools:weather:forecast");
    let wider = app
        .client_credentials(
            "weather-job",
            Some("weather-secret"),
            &[("scope", "mcp:tools")],
        )
        .await;
    let description = assert_oauth_error(wider, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(
        description.contains("may not ask for mcp:tools;"),
        "{description}"
    );
}

/// TK-17: a refresh narrows by covering: a grant of `mcp:tools` refreshes into a token for
/// `mcp:tools:weather`, never into one for `mcp`.
async fn tk_17_a_refresh_narrows_down_the_tree(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.resources = vec![tree()])
        .spawn()
        .await;
    let client = app.public_client().await;
    let body = app
        .tokens_with(&client.client_id, &[("scope", "mcp:tools offline_access")])
        .await;
    let refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    let wider = app
        .refresh(&client.client_id, &refresh_token, &[("scope", "mcp")])
        .await;
    let description = assert_oauth_error(wider, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(description.contains("mcp was not granted"), "{description}");
    let narrowed = app
        .refresh(
            &client.client_id,
            &refresh_token,
            &[("scope", "mcp:tools:weather")],
        )
        .await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "mcp:tools:weather");
    assert_eq!(scope_claim(&narrowed), "mcp:tools:weather");
}

/// RFC 8628 with the tree: the device authorization request is checked by covering.
async fn the_device_flow_checks_scopes_by_covering(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.resources = vec![tree()])
        .spawn()
        .await;
    let client = app.device_client().await;
    let ok = app
        .device_authorization(&client.client_id, &[("scope", "mcp:exec:workflows:deploy")])
        .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = app
        .device_authorization(&client.client_id, &[("scope", "mcp:exec")])
        .await;
    let description = assert_oauth_error(refused, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(
        description.starts_with("scope mcp:exec is not offered"),
        "{description}"
    );
}

on_both_backends!(
    scp_1_a_token_carries_what_was_requested_under_the_tree,
    scp_1_malformed_scope_paths_are_refused,
    az_17_a_clients_allowance_covers_narrower_scopes,
    tk_17_a_refresh_narrows_down_the_tree,
    the_device_flow_checks_scopes_by_covering,
);
