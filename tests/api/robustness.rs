//! No request can make the server fail: malformed input gets a 4xx with an explanation.

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;

async fn malformed_requests_never_cause_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let bodies: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "/token",
            form,
            b"grant_type=authorization_code&code=%FF%FE&client_id=%00".to_vec(),
        ),
        ("/token", form, vec![0xff, 0xfe, 0x00, 0x01]),
        ("/token", form, b"=&&=&grant_type".to_vec()),
        (
            "/token",
            form,
            format!(
                "grant_type=refresh_token&refresh_token={}&client_id={}",
                "x".repeat(5000),
                client.client_id
            )
            .into_bytes(),
        ),
        ("/token", "text/plain", b"hello".to_vec()),
        ("/register", json, b"[]".to_vec()),
        ("/register", json, b"null".to_vec()),
        ("/register", json, br#"{"redirect_uris":[null]}"#.to_vec()),
        (
            "/register",
            json,
            br#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":""}"#.to_vec(),
        ),
        ("/register", json, vec![b'{'; 100_000]),
        (
            "/authorize",
            form,
            b"request_id=x&csrf_token=y&decision=approve&user=dev".to_vec(),
        ),
        ("/authorize", form, vec![0xff; 64]),
    ];
    for (path, content_type, body) in bodies {
        let response = app
            .http
            .post(app.url(path))
            .header("content-type", content_type)
            .header("authorization", "Basic %%%")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(
            !response.text().await.unwrap().is_empty(),
            "{path}: an explanation"
        );
    }
    for query in [
        "client_id=%FF&redirect_uri=%00",
        "client_id=&client_id=",
        &format!(
            "client_id={}&redirect_uri=http://127.0.0.1:53682/callback&response_type=code&code_challenge={}",
            client.client_id,
            "%F0%9F%92%A9".repeat(11)
        ),
        &format!("client_id={}&resource=%3A%2F%2F", client.client_id),
    ] {
        let response = app
            .http
            .get(format!("{}?{query}", app.url("/authorize")))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_client_error() || status.is_redirection(),
            "{query}: {status}"
        );
    }
}

/// A NUL or another control character where an identifier goes names nothing: PostgreSQL
/// text cannot even hold NUL, so it must never reach a query (that would be a 500).
async fn control_characters_in_identifiers_are_client_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    // A consent page first, so the browser cookie is there and a decision reaches the
    // request_id lookup.
    app.consent_form(&app.authorize_params(&client.client_id, &[]))
        .await;
    for id in ["%00", "a%00b", "%01", "x%0Ay"] {
        let forms = [
            (
                "/token",
                format!("grant_type=authorization_code&code=c&client_id={id}"),
            ),
            (
                "/token",
                format!(
                    "grant_type=refresh_token&refresh_token={id}&client_id={}",
                    client.client_id
                ),
            ),
            ("/revoke", format!("token=t&client_id={id}")),
            (
                "/introspect",
                format!("token=t&client_id={id}&client_secret=s"),
            ),
            (
                "/authorize",
                format!("request_id={id}&csrf_token=y&decision=deny"),
            ),
        ];
        for (path, body) in forms {
            let response = app
                .http
                .post(app.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(status.is_client_error(), "{path} {body}: {status}");
        }
        let response = app
            .http
            .get(format!(
                "{}?client_id={id}&redirect_uri=http://127.0.0.1:53682/callback",
                app.url("/authorize")
            ))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "authorize {id}: {}",
            response.status()
        );
        let response = app
            .http
            .post(app.url("/token"))
            .basic_auth(
                id.replace("%00", "\0")
                    .replace("%01", "\u{1}")
                    .replace("%0A", "\n"),
                Some("s"),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "basic {id}: {}",
            response.status()
        );
    }
}

on_both_backends!(
    malformed_requests_never_cause_a_server_error,
    control_characters_in_identifiers_are_client_errors,
);
