//! Redirect URIs lead where they read (issue 20, items 7 and 8): loopback ports are TCP
//! ports, and a registered URI is its own normalised form, so the exact string comparison
//! of OAuth 2.1 §4.1.1 also compares destinations.

use crate::helpers::*;
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

/// AZ-4: a loopback redirect URI may use any port, but a real one. `:99999` used to reach
/// the consent page, and approving it stored a grant before failing.
async fn az_4_loopback_ports_above_65535_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    for port in ["99999", "65536", "0"] {
        let uri = format!("http://127.0.0.1:{port}/callback");
        let response = app
            .get_authorize(&app.authorize_params(&client.client_id, &[("redirect_uri", &uri)]))
            .await;
        assert!(response.headers().get("location").is_none(), "{uri}");
        let page = assert_error_page(response, StatusCode::BAD_REQUEST).await;
        assert!(
            page.contains(&format!("port {port}")) && page.contains("1 to 65535"),
            "{page}"
        );
        let event = app.last_event("authorization.request").await;
        assert_eq!(event["rule"]["id"], "AZ-4", "{event}");
        assert_eq!(event["received"], port, "{event}");
    }
    // The highest port still works.
    let callback = app
        .approve(
            &client.client_id,
            &[("redirect_uri", "http://127.0.0.1:65535/callback")],
        )
        .await;
    assert!(callback.get("code").is_some());
    // Registration refuses them too.
    let response = app
        .register(&json!({
            "redirect_uris": ["http://127.0.0.1:99999/callback"],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let description =
        assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
    assert!(description.contains("invalid port"), "{description}");
}

/// DCR-3 (RFC 7591 §3.2.2): a redirect URI whose destination differs from its text is
/// refused at registration, and the refusal says where a browser would go.
async fn dcr_3_redirect_uris_that_do_not_lead_where_they_read_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (uri, goes_to) in [
        ("https:///cb", Some("https://cb/")),
        (
            "https://evil.example\\@good.example/cb",
            Some("https://evil.example/@good.example/cb"),
        ),
        ("https://%65vil.example/cb", Some("https://evil.example/cb")),
        ("https://good.example", Some("https://good.example/")),
        ("https://GOOD.example/cb", Some("https://good.example/cb")),
        (
            "https://good.example/a/../cb",
            Some("https://good.example/cb"),
        ),
        ("https://user@good.example/cb", None),
        ("https://good.example:x@evil.example/cb", None),
        ("https://good.example/c\tb", None),
        ("https://good.example/\ncb", None),
    ] {
        let response = app
            .register(&json!({
                "redirect_uris": [uri],
                "token_endpoint_auth_method": "none"
            }))
            .await;
        let description =
            assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_redirect_uri").await;
        if let Some(goes_to) = goes_to {
            assert!(
                description.contains(&format!("a browser parses it as '{goes_to}'")),
                "{uri}: {description}"
            );
        }
        let event = app.last_event("client.register").await;
        assert_eq!(event["rule"]["id"], "DCR-3", "{uri}: {event}");
    }
    // What real clients register is its own normalised form, and is accepted.
    for uri in [
        "http://127.0.0.1:33418/",
        "https://vscode.dev/redirect",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "http://localhost:6274/oauth/callback",
    ] {
        app.register_ok(&json!({
            "redirect_uris": [uri],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    }
}

/// AZ-22: the consent page names the host the browser really goes to, even when the path
/// holds something that looks like another host.
async fn az_22_the_consent_page_shows_the_real_host(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    const URI: &str = "https://good.example/@evil.example/cb";
    let client = app
        .register_ok(&json!({
            "redirect_uris": [URI],
            "token_endpoint_auth_method": "none"
        }))
        .await;
    let html = app
        .consent_form(&app.authorize_params(&client.client_id, &[("redirect_uri", URI)]))
        .await
        .html;
    assert!(
        html.contains("sent back to <strong>good.example</strong>"),
        "{html}"
    );
}

on_both_backends!(
    az_4_loopback_ports_above_65535_are_refused,
    dcr_3_redirect_uris_that_do_not_lead_where_they_read_are_refused,
    az_22_the_consent_page_shows_the_real_host,
);
