//! No request can make the server fail: malformed input gets a 4xx with an RFC 6749-shaped
//! explanation, on both backends (PostgreSQL refuses NUL in text, so NUL bytes must be
//! stopped before any query).

use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use base64::Engine;
use reqwest::{Method, StatusCode};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

/// Asserts a 4xx whose body is error JSON with a description, and returns the `error`.
async fn assert_explained(what: &str, response: reqwest::Response) -> String {
    let status = response.status();
    assert!(status.is_client_error(), "{what}: {status}");
    let text = response.text().await.unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: {body}"
    );
    body["error"].as_str().unwrap_or_default().to_owned()
}

async fn malformed_requests_never_cause_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let confidential = app.confidential_client("client_secret_basic").await;
    let secret = confidential.client_secret.clone().unwrap();
    let no_auth = None;
    let bad_basic = Some("Basic %%%".to_owned());
    let posts: Vec<(&str, &str, Vec<u8>, Option<String>)> = vec![
        (
            "/token",
            FORM,
            b"grant_type=authorization_code&code=%FF%FE&client_id=%00".to_vec(),
            no_auth.clone(),
        ),
        (
            "/token",
            FORM,
            format!(
                "grant_type=authorization_code&code=x%00&client_id={}&redirect_uri=%00",
                client.client_id
            )
            .into_bytes(),
            no_auth.clone(),
        ),
        (
            "/token",
            FORM,
            format!(
                "grant_type=refresh_token&refresh_token=x&client_id={}&resource=http://a/%00",
                client.client_id
            )
            .into_bytes(),
            no_auth.clone(),
        ),
        (
            "/token",
            FORM,
            vec![0xff, 0xfe, 0x00, 0x01],
            no_auth.clone(),
        ),
        ("/token", FORM, b"=&&=&grant_type".to_vec(), no_auth.clone()),
        (
            "/token",
            FORM,
            format!(
                "grant_type=refresh_token&refresh_token={}&client_id={}",
                "x".repeat(5000),
                client.client_id
            )
            .into_bytes(),
            no_auth.clone(),
        ),
        (
            "/token",
            FORM,
            b"grant_type=client_credentials".to_vec(),
            bad_basic,
        ),
        ("/token", "text/plain", b"hello".to_vec(), no_auth.clone()),
        (
            "/revoke",
            FORM,
            format!("token=%00&client_id={}", client.client_id).into_bytes(),
            no_auth.clone(),
        ),
        (
            "/introspect",
            FORM,
            b"token=a%00b".to_vec(),
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{secret}", confidential.client_id))
            )),
        ),
        ("/register", JSON, b"[]".to_vec(), no_auth.clone()),
        ("/register", JSON, b"null".to_vec(), no_auth.clone()),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":[null]}"#.to_vec(),
            no_auth.clone(),
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/c\u0000b"]}"#.to_vec(),
            no_auth.clone(),
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"a\u0000b"}"#.to_vec(),
            no_auth.clone(),
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":""}"#.to_vec(),
            no_auth.clone(),
        ),
        ("/register", JSON, vec![b'{'; 100_000], no_auth.clone()),
    ];
    for (path, content_type, body, authorization) in posts {
        let mut request = app
            .http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        assert_explained(path, request.send().await.unwrap()).await;
    }

    // A body over the limit (the server closes that connection, so it gets its own client).
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .header("content-type", FORM)
        .body(vec![b'a'; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_explained("a 3 MiB body", response).await;

    // The consent form's POST answers with a page, never a server error.
    for body in [
        b"request_id=x&csrf_token=y&decision=approve&user=dev".to_vec(),
        vec![0xff; 64],
    ] {
        let response = app
            .http
            .post(app.url("/authorize"))
            .header("content-type", FORM)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "POST /authorize: {status}");
        assert!(!response.text().await.unwrap().is_empty());
    }

    for query in [
        "client_id=%FF&redirect_uri=%00".to_owned(),
        "client_id=&client_id=".to_owned(),
        format!(
            "client_id={}&redirect_uri=http://127.0.0.1:53682/callback&response_type=code&code_challenge={}",
            client.client_id,
            "%F0%9F%92%A9".repeat(11)
        ),
        format!("client_id={}&resource=%3A%2F%2F", client.client_id),
        app.authorize_params(&client.client_id, &[("state", "a\u{0}b")])
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&"),
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

/// Methods an endpoint does not take get 405 with `Allow` and error JSON, not an empty body.
async fn wrong_methods_are_explained(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (method, path, allowed) in [
        (Method::GET, "/token", "POST"),
        (Method::PUT, "/authorize", "GET,HEAD,POST"),
        (Method::DELETE, "/revoke", "POST"),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], allowed, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.ends_with(&format!("it accepts {allowed}")),
            "{method} {path}: {description}"
        );
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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
    wrong_methods_are_explained,
    control_characters_in_identifiers_are_client_errors,
);
