//! The developer console (issue 12): on by default on loopback, every page answering with
//! what the server holds, HTTP Basic when `console.password` is set, nothing at all when
//! `console.enabled = false`, never a secret on a page, client input escaped, and event
//! streams that end when the server stops.

use crate::helpers::{Backend, CALLBACK, RESOURCE, TestApp, assert_error_page};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tollgate::config::{DeclaredClient, User};
use tollgate::oauth::resource::Resource;
use tollgate::secret::{Secret, token_digest};

on_both_backends!(
    every_page_shows_what_the_server_holds,
    no_page_shows_a_secret,
    the_password_is_asked_for_when_set,
    a_console_turned_off_is_not_there_and_not_linked,
    client_input_is_escaped,
    event_streams_resume_and_end_when_the_server_stops,
);

const PAGES: [&str; 6] = [
    "/",
    "/clients",
    "/users",
    "/keys",
    "/resources",
    "/console.js",
];
const USER_PASSWORD: &str = "alice-password-not-on-any-page";
const DECLARED_SECRET: &str = "declared-secret-not-on-any-page";
/// The deliberate mistake: localhost where 127.0.0.1 was registered (TK-7).
const MISTAKE: &str = "http://localhost:53682/callback";

/// A server with a user who has a password and claims, a configured resource and a
/// declared confidential client.
async fn app_with_declarations(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.users.push(User {
                name: Some("Alice Example".to_owned()),
                password: Some(Secret::new(USER_PASSWORD)),
                claims: json!({"email": "alice@example.com"})
                    .as_object()
                    .cloned()
                    .unwrap(),
                ..User::named("alice")
            });
            c.resources = vec![Resource {
                default_scopes: vec!["mcp:tools".to_owned()],
                ..Resource::with_scopes(RESOURCE, &["mcp:tools", "mcp:admin"])
            }];
            c.clients.push(DeclaredClient {
                name: Some("CI pipeline".to_owned()),
                ..DeclaredClient::confidential("ci-pipeline", DECLARED_SECRET)
            });
        })
        .spawn()
        .await
}

impl TestApp {
    async fn console(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/_tollgate{path}")))
            .send()
            .await
            .unwrap()
    }

    /// A console page that must answer 200 with HTML; its text.
    async fn console_page(&self, path: &str) -> String {
        let response = self.console(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        response.text().await.unwrap()
    }

    /// A flow of `client_id` whose token request names `redirect_uri`; returns the token
    /// response's body (an error's `error_uri` names its event in the console).
    async fn flow_with_redirect_uri(&self, client_id: &str, redirect_uri: &str) -> Value {
        let code = self.code(client_id).await;
        let response = self
            .exchange(
                client_id,
                &code,
                &[("redirect_uri", redirect_uri), ("resource", RESOURCE)],
            )
            .await;
        response.json().await.unwrap()
    }
}

/// Text as askama escapes it in a page.
fn html_escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Console on by default on loopback: each page answers 200 with what the server holds.
async fn every_page_shows_what_the_server_holds(backend: Backend) {
    let app = app_with_declarations(backend).await;
    let client = app.public_client().await;
    let refusal = app.flow_with_redirect_uri(&client.client_id, MISTAKE).await;
    assert_eq!(refusal["error"], "invalid_grant", "{refusal}");
    let error_uri = refusal["error_uri"].as_str().unwrap();

    let index = app.console_page("/").await;
    assert!(index.contains("Test MCP Client") && index.contains("1 rejected"));
    // The event `error_uri` names, and its flow: the rule, both values and the hint.
    let event: Value = app
        .http
        .get(error_uri)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow_path = format!("/flows/{}", event["flow"].as_str().unwrap());
    assert!(index.contains(&flow_path), "the index links to the flow");
    let event_page = app.http.get(error_uri).send().await.unwrap();
    assert_eq!(event_page.status(), StatusCode::OK);
    let event_page = event_page.text().await.unwrap();
    assert!(
        event_page.contains(&flow_path),
        "the event links to its flow"
    );
    let hint = html_escaped(event["hint"].as_str().unwrap());
    assert!(hint.contains("localhost"), "{hint}");
    for page in [event_page, app.console_page(&flow_path).await] {
        assert!(page.contains("TK-7") && page.contains("invalid_grant"));
        assert!(page.contains(CALLBACK) && page.contains(MISTAKE));
        assert!(page.contains(&hint), "the hint: {hint}");
    }

    let clients = app.console_page("/clients").await;
    for shown in [
        "Test MCP Client",
        client.client_id.as_str(),
        "CI pipeline",
        "ci-pipeline",
        "dynamic registration",
        "configuration file",
        "client_secret_basic",
        "authorization_code",
        "client_credentials",
        "Registration payload",
        "&#34;application_type&#34;: &#34;native&#34;",
    ] {
        assert!(clients.contains(shown), "the clients page shows {shown}");
    }
    let events_link = format!("/_tollgate/?client={}", client.client_id);
    assert!(clients.contains(&events_link), "{events_link}");
    let client_events = app
        .console_page(&format!("/?client={}", client.client_id))
        .await;
    assert!(client_events.contains("token.request") && client_events.contains("TK-7"));

    let users = app.console_page("/users").await;
    for shown in ["dev", "alice", "Alice Example", "alice@example.com"] {
        assert!(users.contains(shown), "the users page shows {shown}");
    }
    let keys = app.console_page("/keys").await;
    for key in app.jwks().await["keys"].as_array().unwrap() {
        assert!(keys.contains(key["kid"].as_str().unwrap()), "{keys}");
    }
    assert!(keys.contains("active"));
    let resources = app.console_page("/resources").await;
    assert!(resources.contains(RESOURCE) && resources.contains("mcp:admin"));
    assert!(resources.contains("default audience"));

    let script = app.console("/console.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(script.text().await.unwrap().contains("EventSource"));
    // Without the slash: redirected to the index.
    let bare = app.http.get(app.url("/_tollgate")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(bare.headers()["location"], app.url("/_tollgate/").as_str());
    assert_eq!(
        app.console("/flows/no-such-flow").await.status(),
        StatusCode::NOT_FOUND
    );
}

/// No page shows a password, a client secret, a registration access token, a hash or
/// digest of them, or a private key.
async fn no_page_shows_a_secret(backend: Backend) {
    let app = app_with_declarations(backend).await;
    let confidential = app.confidential_client("client_secret_post").await;
    let client_secret = confidential.client_secret.clone().unwrap();
    let registration_token = confidential.body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let public = app.public_client().await;
    app.tokens(&public.client_id).await;
    let forbidden = [
        USER_PASSWORD.to_owned(),
        DECLARED_SECRET.to_owned(),
        token_digest(&client_secret),
        client_secret,
        token_digest(&registration_token),
        registration_token,
        "$argon2".to_owned(),
        "PRIVATE KEY".to_owned(),
    ];
    let mut paths: Vec<String> = PAGES.iter().map(|p| (*p).to_owned()).collect();
    paths.push(format!("/?client={}", confidential.client_id));
    paths.push(format!("/?client={}", public.client_id));
    for path in paths {
        let response = app.console(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.text().await.unwrap();
        for secret in &forbidden {
            assert!(!body.contains(secret.as_str()), "{path} shows {secret}");
        }
    }
    assert!(app.console_page("/users").await.contains(">set<"));
}

/// With `console.password`, every console URL asks for it (HTTP Basic, any user name).
async fn the_password_is_asked_for_when_set(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.console.password = Some(Secret::new("console-password")))
        .spawn()
        .await;
    let mut paths: Vec<&str> = PAGES.to_vec();
    paths.extend(["/events", "/events/no-such-event", "/flows/no-such-flow"]);
    for path in paths {
        let url = app.url(&format!("/_tollgate{path}"));
        for password in [None, Some("wrong")] {
            let mut request = app.http.get(&url);
            if let Some(password) = password {
                request = request.basic_auth("anyone", Some(password));
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Basic "), "{challenge}");
        }
        let admitted = app
            .http
            .get(&url)
            .basic_auth("anyone", Some("console-password"))
            .send()
            .await
            .unwrap();
        assert_ne!(admitted.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let index = app
        .http
        .get(app.url("/_tollgate/"))
        .basic_auth("", Some("console-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    // The OAuth endpoints do not ask for it.
    assert_eq!(
        app.http
            .get(app.url("/jwks.json"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

/// `console.enabled = false`: no console URL answers, and no error links to it.
async fn a_console_turned_off_is_not_there_and_not_linked(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| c.console.enabled = Some(false))
        .spawn()
        .await;
    for path in PAGES.iter().chain(&["", "/events", "/events/stream"]) {
        assert_eq!(
            app.console(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let client = app.public_client().await;
    let refusal = app.flow_with_redirect_uri(&client.client_id, MISTAKE).await;
    assert_eq!(refusal["error"], "invalid_grant");
    assert!(refusal.get("error_uri").is_none(), "{refusal}");
    let redirect = app
        .get_authorize(&app.authorize_params(&client.client_id, &[("response_type", "token")]))
        .await;
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().unwrap();
    assert!(
        location.contains("error=") && !location.contains("error_uri"),
        "{location}"
    );
    let page = app
        .get_authorize(&app.authorize_params("no-such-client", &[]))
        .await;
    let page = assert_error_page(page, StatusCode::BAD_REQUEST).await;
    assert!(!page.contains("/_tollgate"), "{page}");
}

/// Names and values a client sent are shown as text, never as markup.
async fn client_input_is_escaped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let script = "<script>alert(1)</script>";
    let client = app
        .register_ok(&json!({
            "client_name": script,
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let received = format!("{CALLBACK}{script}");
    let refusal = app
        .flow_with_redirect_uri(&client.client_id, &received)
        .await;
    assert_eq!(refusal["error"], "invalid_grant", "{refusal}");
    let event_page = app
        .http
        .get(refusal["error_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let escaped = html_escaped(script);
    for page in [
        app.console_page("/").await,
        app.console_page("/clients").await,
        app.console_page(&format!("/?client={}", client.client_id))
            .await,
        event_page,
    ] {
        assert!(!page.contains(script), "unescaped: {page}");
        assert!(page.contains(&escaped), "{page}");
    }
}

/// The stream resumes where a reconnecting browser got to (`Last-Event-ID` over the URL's
/// `after`), and an open stream does not keep the server from stopping.
async fn event_streams_resume_and_end_when_the_server_stops(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..3 {
        app.metadata().await;
    }
    let events: Value = app.console("/events").await.json().await.unwrap();
    let seqs: Vec<i64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let [.., second_last, last] = seqs[..] else {
        panic!("three metadata fetches recorded: {events}");
    };
    let mut stream = app
        .http
        .get(app.url("/_tollgate/events/stream?after=0"))
        .header("last-event-id", second_last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let first = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&first).into_owned();
    assert!(first.contains(&format!("id: {last}\n")), "{first}");

    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("the server stops within 10 s while a stream is open");
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.text()).await;
    assert!(rest.is_ok(), "the stream ended with the server");
}
