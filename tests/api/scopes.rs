//! Fine-grained scopes (issue 17): colon paths, where a scope covers the ones below it and a
//! last `*` stands for one segment (checklist AZ-17, TK-17, SCP-1); per-user scope policy
//! (SCP-2); unticking optional scopes on the consent page (SCP-3).

use crate::authorize::assert_error_redirect;
use crate::helpers::{
    Backend, CALLBACK, Callback, RESOURCE, TestApp, assert_oauth_error, jwt_payload, run_tollgate,
    tollgate,
};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use tollgate::config::{DeclaredClient, User};
use tollgate::oauth::resource::{DeclaredScope, Resource};

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

/// alice may have any tool, bob the weather tool only, dev anything (no `scopes`).
fn users(c: &mut tollgate::Config) {
    c.users.push(User {
        scopes: Some(vec!["mcp:tools:*".to_owned()]),
        ..User::named("alice")
    });
    c.users.push(User {
        scopes: Some(vec!["mcp:tools:weather".to_owned()]),
        ..User::named("bob")
    });
    c.resources = vec![tree()];
}

/// SCP-2: a grant is within the approving user's policy; beyond it the client gets
/// `access_denied` naming exactly the scopes the user may not have, and the event log the
/// rule and both scope sets.
async fn scp_2_a_user_is_granted_only_what_their_policy_covers(backend: Backend) {
    let app = TestApp::builder(backend).config(users).spawn().await;
    let client = app.public_client().await;
    let approve_as = |user: &'static str, scope: &'static str| {
        let app = &app;
        let client_id = client.client_id.clone();
        async move {
            let form = app
                .consent_form(&app.authorize_params(&client_id, &[("scope", scope)]))
                .await;
            let response = app.decide(&form, "approve", user).await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            Callback::from_response(&response)
        }
    };
    // Within the policy: the token carries the scope as asked.
    let code = approve_as("bob", "mcp:tools:weather offline_access")
        .await
        .one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(scope_claim(&body), "mcp:tools:weather");
    assert!(
        body["refresh_token"].is_string(),
        "offline_access is the server's own"
    );
    let code = approve_as("alice", "mcp:tools:news mcp:tools:weather:read")
        .await
        .one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(scope_claim(&body), "mcp:tools:news mcp:tools:weather:read");
    // dev declares no policy: anything the client and resource allow.
    let code = approve_as("dev", "mcp:tools mcp:exec:workflows:x")
        .await
        .one("code");
    assert_eq!(
        scope_claim(&app.redeemed(&client.client_id, &code).await),
        "mcp:tools mcp:exec:workflows:x"
    );

    // Beyond it: access_denied, only the unmet part named.
    let callback = approve_as("bob", "mcp:tools:weather mcp:tools:news").await;
    assert_eq!(callback.one("error"), "access_denied");
    assert_eq!(callback.one("state"), "st1");
    assert!(callback.get("code").is_none());
    assert_eq!(
        callback.one("error_description"),
        "user 'bob' may not be granted mcp:tools:news; their scope policy allows \
         mcp:tools:weather"
    );
    let event = app.last_event("consent.decision").await;
    assert_eq!(event["outcome"], "rejected", "{event:#}");
    assert_eq!(event["error"], "access_denied", "{event:#}");
    assert_eq!(event["rule"]["id"], "SCP-2", "{event:#}");
    assert_eq!(event["user"], "bob", "{event:#}");
    assert_eq!(event["expected"], "mcp:tools:weather", "{event:#}");
    assert_eq!(
        event["received"], "mcp:tools:weather mcp:tools:news",
        "{event:#}"
    );
    // alice's wildcard is one segment below mcp:tools, not mcp:tools itself.
    let callback = approve_as("alice", "mcp:tools").await;
    assert_eq!(callback.one("error"), "access_denied");
    assert!(
        callback
            .one("error_description")
            .contains("granted mcp:tools;")
    );
}

/// SCP-2 without the page: automatic consent and the device flow apply the same policy.
async fn scp_2_automatic_consent_and_devices_apply_the_policy(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            users(c);
            c.consent.mode = tollgate::config::ConsentMode::Auto;
            c.consent.user = Some("bob".to_owned());
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let response = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("scope", "mcp:tools")]))
        .await;
    let callback = assert_error_redirect(&app, &response, "access_denied");
    assert!(
        callback
            .one("error_description")
            .starts_with("user 'bob' may not be granted mcp:tools;"),
        "{:?}",
        callback.params
    );
    // login_hint names alice, whose policy covers the weather tool.
    let response = app
        .get_authorize(&app.authorize_params(
            &client.client_id,
            &[("scope", "mcp:tools:weather"), ("login_hint", "alice")],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    Callback::from_response(&response).one("code");

    // The device flow: bob approves on the page; the poll is refused (RFC 8628 §3.5).
    let device = TestApp::builder(backend).config(users).spawn().await;
    let client = device.device_client().await;
    let codes: Value = device
        .device_authorization(&client.client_id, &[("scope", "mcp:tools:news")])
        .await
        .json()
        .await
        .unwrap();
    let form = device
        .device_form(codes["user_code"].as_str().unwrap())
        .await;
    let approved = device.device_decide(&form, "approve", "bob").await;
    assert_eq!(approved.status(), StatusCode::OK);
    let poll = device
        .poll(&client.client_id, codes["device_code"].as_str().unwrap())
        .await;
    let description = assert_oauth_error(poll, StatusCode::BAD_REQUEST, "access_denied").await;
    assert_eq!(
        description,
        "user 'bob' may not be granted mcp:tools:news; their scope policy allows \
         mcp:tools:weather"
    );
}

/// SCP-2: the fixture and `tollgate token` apply the policy unless told not to.
async fn scp_2_minted_tokens_follow_the_policy_unless_told_not_to(backend: Backend) {
    let app = TestApp::builder(backend).config(users).spawn().await;
    let refused = app
        .fixture()
        .mint_access_token("bob", RESOURCE, "mcp:tools:news")
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("access_denied: user 'bob' may not be granted mcp:tools:news"),
        "{refused}"
    );
    let ok = app
        .fixture()
        .mint_access_token("bob", RESOURCE, "mcp:tools:weather")
        .await
        .unwrap();
    assert_eq!(jwt_payload(&ok)["scope"], "mcp:tools:weather");
    let beyond = app
        .fixture()
        .mint_access_token_beyond_policy("bob", RESOURCE, "mcp:tools:news")
        .await
        .unwrap();
    assert_eq!(jwt_payload(&beyond)["scope"], "mcp:tools:news");

    // The command line reads the same [[users]] from a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tollgate.toml");
    std::fs::write(
        &file,
        "[[users]]\nsubject = \"bob\"\nscopes = [\"mcp:tools:weather\"]\n",
    )
    .unwrap();
    let args = |extra: &'static str| {
        vec![
            "token".to_owned(),
            "--config".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--database-url".to_owned(),
            app.database_url().to_owned(),
            "--issuer".to_owned(),
            app.issuer.clone(),
            "--sub".to_owned(),
            "bob".to_owned(),
            "--aud".to_owned(),
            RESOURCE.to_owned(),
            "--scope".to_owned(),
            "mcp:tools:news".to_owned(),
            extra.to_owned(),
        ]
    };
    let refused = args("--ttl=60s");
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let output = run_tollgate(&refused, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "user 'bob' may not be granted mcp:tools:news; their scope policy allows \
             mcp:tools:weather (checklist SCP-2); give --beyond-policy to mint it anyway"
        ),
        "{stderr}"
    );
    let beyond = args("--beyond-policy");
    let beyond: Vec<&str> = beyond.iter().map(String::as_str).collect();
    let token = tollgate(&beyond).trim().to_owned();
    let claims = app.verify_access_token(&token, RESOURCE).await.unwrap();
    assert_eq!(claims["scope"], "mcp:tools:news");
}

/// SCP-3: the consent page shows each requested scope with its declared description and a
/// ticked checkbox for the optional ones; unticked, the grant and the token go without it,
/// and the token response says so (OAuth 2.1 §3.2.3).
async fn scp_3_the_user_may_untick_optional_scopes(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.resources = vec![Resource {
                scopes: vec![
                    DeclaredScope {
                        description: Some("Use the weather server's tools".to_owned()),
                        ..DeclaredScope::named("mcp:tools")
                    },
                    DeclaredScope {
                        description: Some("Read forecasts <for your town>".to_owned()),
                        optional: true,
                        ..DeclaredScope::named("mcp:tools:weather")
                    },
                ],
                ..Resource::with_scopes(RESOURCE, &[])
            }]
        })
        .spawn()
        .await;
    let client = app.public_client().await;
    let asked = "mcp:tools:news mcp:tools:weather offline_access";
    let params = app.authorize_params(&client.client_id, &[("scope", asked)]);
    let form = app.consent_form(&params).await;
    let html = &form.html;
    assert!(
        html.contains(r#"<input type="checkbox" name="scope" value="mcp:tools:weather" checked>"#),
        "{html}"
    );
    // Descriptions are escaped, and only optional scopes have a box.
    assert!(
        html.contains("Read forecasts &#60;for your town&#62;"),
        "{html}"
    );
    assert!(!html.contains(r#"value="mcp:tools:news""#), "{html}");
    assert!(!html.contains(r#"value="offline_access""#), "{html}");

    // Unticked: the box sends nothing.
    let response = app.decide(&form, "approve", "dev").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(body["scope"], "mcp:tools:news offline_access");
    assert_eq!(scope_claim(&body), "mcp:tools:news");
    let approved = app.last_event("consent.approved").await;
    assert_eq!(
        approved["details"]["left_out"],
        serde_json::json!(["mcp:tools:weather"])
    );
    // A refresh cannot bring it back.
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let wider = app
        .refresh(
            &client.client_id,
            refresh_token,
            &[("scope", "mcp:tools:weather")],
        )
        .await;
    assert_oauth_error(wider, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Ticked (as the page opens), and a name that was never requested: only what was asked.
    let form = app.consent_form(&params).await;
    let response = app
        .http
        .post(app.url("/authorize"))
        .form(&[
            ("request_id", form.request_id.as_str()),
            ("csrf_token", form.csrf_token.as_str()),
            ("user", "dev"),
            ("decision", "approve"),
            ("scope", "mcp:tools:weather"),
            ("scope", "mcp:admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = Callback::from_response(&response).one("code");
    let body = app.redeemed(&client.client_id, &code).await;
    assert_eq!(scope_claim(&body), "mcp:tools:news mcp:tools:weather");
}

on_both_backends!(
    scp_3_the_user_may_untick_optional_scopes,
    scp_2_a_user_is_granted_only_what_their_policy_covers,
    scp_2_automatic_consent_and_devices_apply_the_policy,
    scp_2_minted_tokens_follow_the_policy_unless_told_not_to,
    scp_1_a_token_carries_what_was_requested_under_the_tree,
    scp_1_malformed_scope_paths_are_refused,
    az_17_a_clients_allowance_covers_narrower_scopes,
    tk_17_a_refresh_narrows_down_the_tree,
    the_device_flow_checks_scopes_by_covering,
);
