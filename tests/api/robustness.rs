//! No request can make the server fail: malformed input gets a 4xx with an RFC 6749-shaped
//! explanation, on both backends (PostgreSQL refuses NUL in text, so NUL bytes must be
//! stopped before any query).

use crate::helpers::{
    Backend, CALLBACK, Callback, TestApp, assert_console_link, assert_error_page,
    assert_oauth_error,
};
use crate::on_both_backends;
use base64::Engine;
use reqwest::{Method, StatusCode};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const BAD_REQUEST: StatusCode = StatusCode::BAD_REQUEST;

/// A POST and its answer: path, content type, body, `Authorization`, status, error code.
type Post = (
    &'static str,
    &'static str,
    Vec<u8>,
    Option<String>,
    StatusCode,
    &'static str,
);

/// Asserts the answer to an authorization request whose client and redirect URI were
/// verified: a `302` to exactly `CALLBACK` with `error`, a description and `iss`, and no
/// state (none of these requests has a usable one).
fn assert_error_redirect(app: &TestApp, what: &str, response: &reqwest::Response, error: &str) {
    assert_eq!(response.status(), StatusCode::FOUND, "{what}");
    let callback = Callback::from_response(response);
    callback.assert_redirects_to(
        CALLBACK,
        &["error", "error_description", "error_uri", "iss"],
    );
    assert_console_link(app, &callback);
    assert_eq!(callback.one("error"), error, "{what}");
    assert_eq!(callback.one("iss"), app.issuer, "{what}");
}

async fn malformed_requests_never_cause_a_server_error(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let client = app.public_client().await;
    let confidential = app.confidential_client("client_secret_basic").await;
    let secret = confidential.client_secret.clone().unwrap();
    let no_auth = None;
    let bad_basic = Some("Basic %%%".to_owned());
    // Each with the exact answer: a 4xx alone would also pass a check that fires for the
    // wrong reason.
    let posts: Vec<Post> = vec![
        (
            "/token",
            FORM,
            b"grant_type=authorization_code&code=%FF%FE&client_id=%00".to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_request",
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
            BAD_REQUEST,
            "invalid_request",
        ),
        // The unknown refresh token is refused before the resource is read.
        (
            "/token",
            FORM,
            format!(
                "grant_type=refresh_token&refresh_token=x&client_id={}&resource=http://a/%00",
                client.client_id
            )
            .into_bytes(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_grant",
        ),
        (
            "/token",
            FORM,
            vec![0xff, 0xfe, 0x00, 0x01],
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/token",
            FORM,
            b"=&&=&grant_type".to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_request",
        ),
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
            BAD_REQUEST,
            "invalid_grant",
        ),
        (
            "/token",
            FORM,
            b"grant_type=client_credentials".to_vec(),
            bad_basic,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            "/token",
            "text/plain",
            b"hello".to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_request",
        ),
        (
            "/revoke",
            FORM,
            format!("token=%00&client_id={}", client.client_id).into_bytes(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_request",
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
            BAD_REQUEST,
            "invalid_request",
        ),
        // An array reads as metadata without redirect_uris.
        (
            "/register",
            JSON,
            b"[]".to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_redirect_uri",
        ),
        (
            "/register",
            JSON,
            b"null".to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_client_metadata",
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":[null]}"#.to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_client_metadata",
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/c\u0000b"]}"#.to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_redirect_uri",
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"a\u0000b"}"#.to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_client_metadata",
        ),
        (
            "/register",
            JSON,
            br#"{"redirect_uris":["http://127.0.0.1/cb"],"client_name":""}"#.to_vec(),
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_client_metadata",
        ),
        (
            "/register",
            JSON,
            vec![b'{'; 100_000],
            no_auth.clone(),
            BAD_REQUEST,
            "invalid_client_metadata",
        ),
    ];
    for (path, content_type, body, authorization, status, error) in posts {
        let mut request = app
            .http
            .post(app.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        assert_oauth_error(request.send().await.unwrap(), status, error).await;
    }

    // A body over the limit (the server closes that connection, so it gets its own client).
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .header("content-type", FORM)
        .body(vec![b'a'; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;

    // The consent form's POST answers with a page, never a server error or a redirect: a
    // decision without this browser's consent cookie is a CSRF refusal, an unreadable form
    // a bad request.
    for (body, status) in [
        (
            b"request_id=x&csrf_token=y&decision=approve&user=dev".to_vec(),
            StatusCode::FORBIDDEN,
        ),
        (vec![0xff; 64], BAD_REQUEST),
    ] {
        let response = app
            .http
            .post(app.url("/authorize"))
            .header("content-type", FORM)
            .body(body)
            .send()
            .await
            .unwrap();
        let page = assert_error_page(response, status).await;
        assert!(!page.is_empty());
    }

    let get = |query: String| {
        let request = app.http.get(format!("{}?{query}", app.url("/authorize")));
        async move { (request.send().await.unwrap(), query) }
    };
    // Clients that cannot be verified (an id no client has, no id at all) are told on a
    // page and never sent anywhere (AZ-5, OAuth 2.1 §4.1.2.1): a redirect here would be an
    // open redirect.
    const EVIL: &str = "https%3A%2F%2Fevil.example%2Fcb";
    for (query, error) in [
        (
            "client_id=%FF&redirect_uri=%00".to_owned(),
            "invalid_client",
        ),
        ("client_id=&client_id=".to_owned(), "invalid_request"),
        (
            format!("client_id=no-such-client&redirect_uri={EVIL}&response_type=code"),
            "invalid_client",
        ),
        (
            format!("client_id=%00&redirect_uri={EVIL}&response_type=code"),
            "invalid_request",
        ),
        (
            format!(
                "client_id={}&redirect_uri={EVIL}&response_type=code",
                client.client_id
            ),
            "invalid_request",
        ),
    ] {
        let (response, query) = get(query).await;
        let page = assert_error_page(response, BAD_REQUEST).await;
        assert!(
            page.contains(&format!("<code>{error}</code>")),
            "{query}: {page}"
        );
    }
    // A registered client and its registered redirect URI (sent, or its only one): the
    // error goes back to exactly that URI, and nowhere else.
    for query in [
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
        let (response, query) = get(query).await;
        assert_error_redirect(&app, &query, &response, "invalid_request");
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
            if path == "/authorize" {
                // The consent form answers with a page.
                assert_error_page(response, BAD_REQUEST).await;
            } else {
                let description =
                    assert_oauth_error(response, BAD_REQUEST, "invalid_request").await;
                assert!(
                    description.contains("control character"),
                    "{path} {body}: {description}"
                );
            }
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
        // No client has this id: a page, never a redirect to the redirect_uri sent.
        assert_error_page(response, BAD_REQUEST).await;
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
        assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    }
}

on_both_backends!(
    malformed_requests_never_cause_a_server_error,
    wrong_methods_are_explained,
    control_characters_in_identifiers_are_client_errors,
);
