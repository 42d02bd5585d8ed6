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

on_both_backends!(malformed_requests_never_cause_a_server_error);
