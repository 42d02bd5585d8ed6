//! Client ID Metadata Documents (CIMD-1..CIMD-14, MD-11), against a local document server.

use crate::helpers::{
    Answer, Backend, Callback, ChunkedServer, DocumentServer, TestApp, TestDb, assert_error_page,
    assert_oauth_error, example_document,
};
use crate::on_both_backends;
use axum::http::StatusCode;
use reqwest::StatusCode as Status;
use std::time::Duration;

/// A server that accepts loopback `http` document URLs (the local development setting).
async fn spawn(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.timeout = Duration::from_millis(700);
        })
        .spawn()
        .await
}

const CALLBACK: &str = "http://localhost:51353/callback";

/// The authorization request for a document client, answered with the error page or the
/// consent page.
async fn authorize(app: &TestApp, client_id: &str) -> reqwest::Response {
    app.get_authorize(&app.authorize_params(client_id, &[("redirect_uri", CALLBACK)]))
        .await
}

/// Asserts the HTML error page (never a redirect) and that it says `why`.
async fn assert_refused(response: reqwest::Response, why: &str) {
    let page = assert_error_page(response, Status::BAD_REQUEST).await;
    assert!(page.contains(why), "the page should say '{why}':\n{page}");
}

/// CIMD-1, CIMD-3, CIMD-11, CIMD-14, MD-11: the whole flow with a URL client id.
async fn cimd_1_a_document_client_completes_the_flow(backend: Backend) {
    let app = spawn(backend).await;
    assert_eq!(
        app.metadata().await["client_id_metadata_document_supported"],
        true
    );
    let docs = DocumentServer::start().await;
    docs.publish("clients/example.json", "max-age=60");
    let client_id = docs.url("clients/example.json");

    let form = app
        .consent_form(&app.authorize_params(&client_id, &[("redirect_uri", CALLBACK)]))
        .await;
    assert!(form.html.contains("Example MCP Client"));
    assert!(
        form.html
            .contains("published by <strong>127.0.0.1</strong>"),
        "CIMD-11 client host"
    );
    assert!(
        form.html.contains("<strong>localhost</strong>"),
        "the redirect host"
    );
    let decision = app.decide(&form, "approve", "dev").await;
    let code = Callback::from_response(&decision).one("code");
    // CIMD-14: the token endpoint accepts the URL client id with no secret.
    let response = app
        .exchange(&client_id, &code, &[("redirect_uri", CALLBACK)])
        .await;
    assert_eq!(response.status(), Status::OK);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let refreshed = app
        .refresh(&client_id, tokens["refresh_token"].as_str().unwrap(), &[])
        .await;
    assert_eq!(refreshed.status(), Status::OK);
    assert_eq!(
        docs.hits("clients/example.json"),
        1,
        "cached for its max-age"
    );
}

/// CIMD-2, CIMD-4, CIMD-5: documents that do not qualify.
async fn cimd_2_4_5_invalid_documents_are_refused(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    let cases = [
        (
            "wrong-id.json",
            example_document("https://elsewhere.example/c.json", ""),
            "must be exactly the document",
        ),
        ("no-name.json", String::new(), "client_name is missing"),
        (
            "null-name.json",
            String::new(),
            "client_name must be a non-empty string",
        ),
        (
            "null-uris.json",
            String::new(),
            "redirect_uris must be a non-empty array",
        ),
        (
            "no-uris.json",
            String::new(),
            "redirect_uris must be a non-empty array",
        ),
        ("secret.json", String::new(), "shared secret"),
        ("not-json.json", "<html>".to_owned(), "not JSON"),
    ];
    for (path, body, why) in cases {
        let url = docs.url(path);
        let body = match path {
            "no-name.json" => {
                format!(r#"{{"client_id":"{url}","redirect_uris":["http://localhost/callback"]}}"#)
            }
            // CIMD-4: a null is not a value; without one the document is not valid.
            "null-name.json" => example_document(&url, "").replace(
                r#""client_name":"Example MCP Client""#,
                r#""client_name":null"#,
            ),
            "null-uris.json" => {
                format!(r#"{{"client_id":"{url}","client_name":"x","redirect_uris":null}}"#)
            }
            "no-uris.json" => format!(
                r#"{{"client_id":"{url}","client_name":"x","redirect_uris":[],
                "grant_types":["client_credentials"],"response_types":[]}}"#
            ),
            "secret.json" => {
                example_document(&url, "").replace(r#""none""#, r#""client_secret_basic""#)
            }
            _ => body,
        };
        docs.answer(path, Answer::json(body, "no-store"));
        assert_refused(authorize(&app, &url).await, why).await;
    }
    // CIMD-3: the redirect URI must be in the document (the loopback port may vary).
    docs.publish("good.json", "no-store");
    let url = docs.url("good.json");
    let response = app
        .get_authorize(
            &app.authorize_params(&url, &[("redirect_uri", "http://localhost:51353/other")]),
        )
        .await;
    assert_refused(response, "is not registered for this client").await;
    // CIMD-5 at the token endpoint: a document client cannot present a secret.
    let response = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", &url),
            ("client_secret", "s"),
        ])
        .await;
    assert_oauth_error(response, Status::UNAUTHORIZED, "invalid_client").await;
}

/// Grant types a document declares that this server does not support, or that its client
/// cannot use here (claude.ai's public client declares the JWT bearer grant, which needs a
/// confidential client), are ignored, not refused: the client completes the flow, and the
/// document fetch's event says what was ignored. VS Code's device grant is kept.
async fn cimd_4_unsupported_grant_types_in_a_document_are_ignored(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    let url = docs.url("claude.json");
    let body = example_document(&url, "").replace(
        r#""grant_types":["authorization_code","refresh_token"]"#,
        r#""grant_types":["authorization_code","refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:device_code"]"#,
    );
    assert!(body.contains("jwt-bearer"));
    docs.answer("claude.json", Answer::json(body, "max-age=60"));
    let callback = app.approve(&url, &[("redirect_uri", CALLBACK)]).await;
    let response = app
        .exchange(&url, &callback.one("code"), &[("redirect_uri", CALLBACK)])
        .await;
    assert_eq!(response.status(), Status::OK);
    let fetches = app.events_of_type(&url, "client.document_fetch").await;
    let fetch = fetches.first().expect("the fetch is recorded");
    assert_eq!(fetch["outcome"], "ok");
    let description = fetch["description"].as_str().unwrap();
    assert!(
        description.contains("urn:ietf:params:oauth:grant-type:jwt-bearer")
            && description.contains("needs a confidential client")
            && !description.contains("device_code"),
        "{description}"
    );
    assert_eq!(fetch["details"]["ignored"].as_array().unwrap().len(), 1);
    assert_eq!(
        fetch["details"]["metadata"]["grant_types"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
}

/// CIMD-7, CIMD-8: only 200 counts; redirects are not followed.
async fn cimd_7_8_only_200_counts_and_redirects_are_not_followed(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("target.json", "no-store");
    docs.answer("moved.json", Answer::redirect(&docs.url("target.json")));
    assert_refused(
        authorize(&app, &docs.url("moved.json")).await,
        "answered 302",
    )
    .await;
    assert_eq!(docs.hits("target.json"), 0, "the redirect was not followed");
    let created = docs
        .valid("created.json", "no-store")
        .with_status(StatusCode::CREATED);
    docs.answer("created.json", created);
    assert_refused(
        authorize(&app, &docs.url("created.json")).await,
        "answered 201",
    )
    .await;
    assert_refused(
        authorize(&app, &docs.url("missing.json")).await,
        "answered 404",
    )
    .await;
}

/// CIMD-10 and the timeout: big or slow documents are refused.
async fn cimd_10_big_or_slow_documents_are_refused(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    let padding = format!(r#","padding":"{}""#, "x".repeat(6 * 1024));
    docs.answer(
        "big.json",
        Answer::json(
            example_document(&docs.url("big.json"), &padding),
            "no-store",
        ),
    );
    assert_refused(
        authorize(&app, &docs.url("big.json")).await,
        "larger than 5120 bytes",
    )
    .await;
    // Without a Content-Length the limit still holds: the body is counted as it arrives.
    let chunked = ChunkedServer::start(8 * 1024).await;
    assert_refused(
        authorize(&app, &chunked.url).await,
        "larger than 5120 bytes",
    )
    .await;
    assert_eq!(
        chunked.requests(),
        1,
        "it was fetched, and refused while reading"
    );
    let slow = docs
        .valid("slow.json", "no-store")
        .with_delay(Duration::from_secs(3));
    docs.answer("slow.json", slow);
    assert_refused(authorize(&app, &docs.url("slow.json")).await, "timed out").await;
}

/// CIMD-6: cache headers, `Age` included, are honoured with a bound; errors and invalid
/// documents are never cached, so a fix works at once.
async fn cimd_6_caching(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;

    docs.publish("cached.json", "max-age=60");
    let url = docs.url("cached.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("cached.json"), 1);
    app.clock.advance(61);
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(docs.hits("cached.json"), 2, "fetched again after max-age");

    docs.publish("uncached.json", "no-store");
    let url = docs.url("uncached.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("uncached.json"), 2);

    // Without max-age, Expires (minus Date) decides, the same way (RFC 9111 §4.2.1).
    let expiring = docs
        .valid("expires.json", "public")
        .with_header("date", "Sun, 06 Nov 1994 08:49:37 GMT")
        .with_header("expires", "Sun, 06 Nov 1994 08:51:37 GMT");
    docs.answer("expires.json", expiring);
    let url = docs.url("expires.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("expires.json"), 1, "cached until Expires");
    app.clock.advance(121);
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(docs.hits("expires.json"), 2, "fetched again after Expires");
    // An Expires that is not a date means already expired (RFC 9111 §5.3).
    let expired = docs
        .valid("expired.json", "public")
        .with_header("expires", "0");
    docs.answer("expired.json", expired);
    let url = docs.url("expired.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("expired.json"), 2);

    // A response that has aged in a cache on the way is fresh only for what is left
    // (RFC 9111 §4.2.3): max-age 60 with Age 50 leaves 10 s; Age 60 leaves nothing.
    let aged = docs
        .valid("aged.json", "max-age=60")
        .with_header("age", "50");
    docs.answer("aged.json", aged);
    let url = docs.url("aged.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("aged.json"), 1, "cached for the 10 s left");
    app.clock.advance(11);
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(docs.hits("aged.json"), 2, "fetched again after them");
    let stale = docs
        .valid("stale.json", "max-age=60")
        .with_header("age", "60");
    docs.answer("stale.json", stale);
    let url = docs.url("stale.json");
    for _ in 0..2 {
        assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    }
    assert_eq!(docs.hits("stale.json"), 2, "stale on arrival: not cached");

    // An invalid document, then the fixed one: the fix is seen at once.
    let url = docs.url("fixed.json");
    docs.answer(
        "fixed.json",
        Answer::json(r#"{"client_id":"nope"}"#.to_owned(), "max-age=3600"),
    );
    assert_refused(authorize(&app, &url).await, "must be exactly").await;
    docs.publish("fixed.json", "max-age=3600");
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
}

/// CIMD-6 (errors are never cached): a document URL that answers 404, then serves the
/// document, works on the very next authorization, which fetches it again; the same after
/// a 503 that carried a long max-age of its own.
async fn cimd_6_a_failed_fetch_is_not_cached(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    let url = docs.url("later.json");
    assert_refused(authorize(&app, &url).await, "answered 404").await;
    assert_refused(authorize(&app, &url).await, "answered 404").await;
    assert_eq!(docs.hits("later.json"), 2, "each attempt fetched");
    docs.publish("later.json", "max-age=600");
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(
        docs.hits("later.json"),
        3,
        "fetched at once, not after a delay"
    );
    // A server error is not cached either.
    let url = docs.url("flaky.json");
    docs.answer(
        "flaky.json",
        Answer::status(StatusCode::SERVICE_UNAVAILABLE).with_header("cache-control", "max-age=600"),
    );
    assert_refused(authorize(&app, &url).await, "answered 503").await;
    docs.publish("flaky.json", "max-age=600");
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(docs.hits("flaky.json"), 2);
}

/// CIMD-9: without the local development setting, no fetch reaches a private or loopback
/// address, whether named by an IP literal or by a host name that resolves to one.
async fn cimd_9_no_fetches_to_special_use_addresses(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "no-store");
    let port = docs.port().to_owned();
    for url in [
        format!("https://127.0.0.1:{port}/doc.json"),
        format!("https://localhost:{port}/doc.json"),
        "https://10.0.0.5/c.json".to_owned(),
        "https://[::1]/c.json".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
    ] {
        assert_refused(authorize(&app, &url).await, "does not fetch from").await;
    }
    // An https fetch of the plain-http document server could never produce a GET; a TLS
    // handshake would still be a TCP connection, so connections are what is counted.
    assert_eq!(docs.connections(), 0, "no connection was made");
    // Plain http is not a document URL at all without the setting.
    assert_refused(authorize(&app, &docs.url("doc.json")).await, "no client").await;
    // The setting relaxes loopback only.
    let dev = spawn(backend).await;
    assert_refused(
        authorize(&dev, "https://10.0.0.5/c.json").await,
        "does not fetch from",
    )
    .await;
}

/// CIMD-9, issue 20 item 4: an IPv6 address is judged by the IPv4 address it carries.
/// `[::ffff:0:a9fe:a9fe]` (IPv4-translated 169.254.169.254) led to a connection attempt;
/// `[::ffff:0:7f00:1]` carries loopback but is no loopback address, so even the local
/// development setting does not connect to it.
async fn cimd_9_embedded_ipv4_addresses_are_unwrapped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let dev = spawn(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "no-store");
    let port = docs.port().to_owned();
    for (url, says) in [
        (
            "https://[::ffff:0:a9fe:a9fe]/c.json".to_owned(),
            "carries the IPv4 address 169.254.169.254",
        ),
        (
            "https://[64:ff9b::a9fe:a9fe]/c.json".to_owned(),
            "is in 169.254.0.0/16",
        ),
        (
            "https://[2002:a9fe:a9fe::1]/c.json".to_owned(),
            "carries the IPv4 address 169.254.169.254",
        ),
        (
            format!("https://[::ffff:0:7f00:1]:{port}/doc.json"),
            "carries the IPv4 address 127.0.0.1",
        ),
        (
            format!("https://[::7f00:1]:{port}/doc.json"),
            "carries the IPv4 address 127.0.0.1",
        ),
    ] {
        for server in [&app, &dev] {
            let page = assert_error_page(authorize(server, &url).await, Status::BAD_REQUEST).await;
            assert!(
                page.contains("does not fetch from") && page.contains(says),
                "{url}: {page}"
            );
        }
    }
    assert_eq!(docs.connections(), 0, "no connection was made");
}

/// DCR-9, issue 20 item 5: a metadata document's fetch registers its client, so it counts
/// against the requesting address's registration budget, shared with `POST /register`.
/// 300 document URLs used to create 303 clients in 14 s while registration stopped at 60.
async fn dcr_9_document_fetches_count_against_the_registration_limit(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.registration.per_minute = 3;
        })
        .spawn()
        .await;
    let docs = DocumentServer::start().await;
    for name in ["a.json", "b.json", "c.json", "d.json"] {
        docs.publish(name, "max-age=600");
    }
    for name in ["a.json", "b.json", "c.json"] {
        assert_eq!(authorize(&app, &docs.url(name)).await.status(), Status::OK);
    }
    let page = assert_error_page(
        authorize(&app, &docs.url("d.json")).await,
        Status::BAD_REQUEST,
    )
    .await;
    assert!(
        page.contains("too many new clients from 127.0.0.1") && page.contains("3 a minute"),
        "{page}"
    );
    assert_eq!(docs.hits("d.json"), 0, "refused before fetching");
    let event = app.last_event("client.document_fetch").await;
    assert_eq!(event["rule"]["id"], "DCR-9", "{event}");
    // The budget is the one dynamic registration uses.
    let response = app
        .register(&serde_json::json!({"redirect_uris": [CALLBACK]}))
        .await;
    assert_oauth_error(
        response,
        Status::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
    )
    .await;
    // A cached document costs nothing.
    assert_eq!(
        authorize(&app, &docs.url("a.json")).await.status(),
        Status::OK
    );
    assert_eq!(docs.hits("a.json"), 1);
}

/// Issue 20 item 5: concurrent requests naming one document URL share one fetch.
async fn cimd_concurrent_fetches_of_one_url_are_coalesced(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.timeout = Duration::from_secs(10);
        })
        .spawn()
        .await;
    let docs = DocumentServer::start().await;
    let url = docs.url("slow.json");
    // Slow enough that the requests overlap; with max-age, a request that came after the
    // fetch would be served from the cache, so any second fetch means no coalescing.
    docs.answer(
        "slow.json",
        docs.valid("slow.json", "max-age=600")
            .with_delay(Duration::from_millis(700)),
    );
    let requests = (0..8).map(|_| authorize(&app, &url));
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), Status::OK);
    }
    assert_eq!(docs.hits("slow.json"), 1, "one fetch for eight requests");
}

/// Issue 20 item 5, CIMD-6: a fetch that got no answer (here a timeout) is remembered for
/// five seconds, so a document server that is down is not asked by every request; an
/// answer, even an error, is never remembered (`cimd_6_a_failed_fetch_is_not_cached`).
async fn cimd_fetches_without_an_answer_are_remembered_briefly(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    let url = docs.url("down.json");
    docs.answer(
        "down.json",
        docs.valid("down.json", "max-age=600")
            .with_delay(Duration::from_secs(3)),
    );
    assert_refused(authorize(&app, &url).await, "timed out").await;
    assert_refused(authorize(&app, &url).await, "timed out").await;
    assert_eq!(docs.hits("down.json"), 1, "the failure was remembered");
    docs.publish("down.json", "max-age=600");
    app.clock.advance(5);
    assert_eq!(authorize(&app, &url).await.status(), Status::OK);
    assert_eq!(docs.hits("down.json"), 2, "fetched again after 5 s");
}

/// CIMD-6: `cimd.max_cache` bounds what a document's cache headers ask for.
async fn cimd_6_cache_lifetime_is_bounded(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.cimd.allow_http_loopback = true;
            c.cimd.max_cache = Duration::from_secs(120);
        })
        .spawn()
        .await;
    let docs = DocumentServer::start().await;
    docs.publish("long.json", "max-age=86400");
    let expiring = docs
        .valid("far.json", "public")
        .with_header("expires", "Fri, 06 Nov 2099 08:51:37 GMT");
    docs.answer("far.json", expiring);
    for path in ["long.json", "far.json"] {
        let url = docs.url(path);
        for _ in 0..2 {
            assert_eq!(authorize(&app, &url).await.status(), Status::OK);
        }
        assert_eq!(docs.hits(path), 1, "{path}: cached");
    }
    app.clock.advance(121);
    for path in ["long.json", "far.json"] {
        assert_eq!(authorize(&app, &docs.url(path)).await.status(), Status::OK);
        assert_eq!(docs.hits(path), 2, "{path}: fetched again after max_cache");
    }
}

/// CIMD-6, CIMD-1: removing a document client while its document is cached (here with
/// `tollgate clients remove`, as another process would) does not leave the cache serving a
/// client without its row: the next authorization fetches the document again, stores the
/// client and works through to a token.
async fn cimd_6_a_removed_client_is_fetched_and_stored_again(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "max-age=600");
    let client_id = docs.url("doc.json");
    assert_eq!(authorize(&app, &client_id).await.status(), Status::OK);
    assert_eq!(docs.hits("doc.json"), 1);

    let output = crate::helpers::tollgate(&[
        "clients",
        "remove",
        &client_id,
        "--database-url",
        app.database_url(),
    ]);
    assert!(output.contains("removed client"), "{output}");

    let form = app
        .consent_form(&app.authorize_params(&client_id, &[("redirect_uri", CALLBACK)]))
        .await;
    assert_eq!(
        docs.hits("doc.json"),
        2,
        "the removal is seen, and the document read again"
    );
    let code = Callback::from_response(&app.decide(&form, "approve", "dev").await).one("code");
    let response = app
        .exchange(&client_id, &code, &[("redirect_uri", CALLBACK)])
        .await;
    assert_eq!(response.status(), Status::OK);
    // Stored again, the document is cached again.
    assert_eq!(authorize(&app, &client_id).await.status(), Status::OK);
    assert_eq!(docs.hits("doc.json"), 2);
}

/// CIMD §3 (the rules behind CIMD-1): a client identifier URL with user information, a
/// fragment or dot segments is refused before anything is fetched; credentials in the
/// URL never reach the host.
async fn cimd_1_url_rules_are_checked_before_fetching(backend: Backend) {
    let app = spawn(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "no-store");
    let port = docs.port();
    for (url, why) in [
        (
            format!("http://user:secret@127.0.0.1:{port}/doc.json"),
            "must not contain user information",
        ),
        (
            format!("http://127.0.0.1:{port}/doc.json#frag"),
            "must not contain a fragment",
        ),
        (
            format!("http://127.0.0.1:{port}/x/../doc.json"),
            "path segments",
        ),
        (
            format!("http://127.0.0.1:{port}/./doc.json"),
            "path segments",
        ),
        (
            format!("http://127.0.0.1:{port}/x/%2e%2e/doc.json"),
            "path segments",
        ),
    ] {
        assert_refused(authorize(&app, &url).await, why).await;
        let response = app
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("code_verifier", crate::helpers::VERIFIER),
                ("client_id", &url),
            ])
            .await;
        let description =
            assert_oauth_error(response, Status::UNAUTHORIZED, "invalid_client").await;
        assert!(description.contains(why), "{description}");
    }
    assert_eq!(docs.connections(), 0, "nothing was fetched");
}

/// CIMD-1 (metadata documents only while enabled): a document client stored while they
/// were accepted stops working once the configuration refuses it, and works again when
/// the configuration accepts it again.
async fn cimd_1_stored_document_clients_follow_the_configuration(backend: Backend) {
    let db = TestDb::new(backend).await;
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "max-age=60");
    let client_id = docs.url("doc.json");
    let dev = |c: &mut tollgate::Config| c.cimd.allow_http_loopback = true;
    let first = TestApp::builder(backend)
        .on_db(db.clone())
        .config(dev)
        .spawn()
        .await;
    let form = first
        .consent_form(&first.authorize_params(&client_id, &[("redirect_uri", CALLBACK)]))
        .await;
    let code = Callback::from_response(&first.decide(&form, "approve", "dev").await).one("code");
    let response = first
        .exchange(&client_id, &code, &[("redirect_uri", CALLBACK)])
        .await;
    assert_eq!(response.status(), Status::OK);
    let tokens: serde_json::Value = response.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    first.stop().await;

    type Change = fn(&mut tollgate::Config);
    let refusals: [(Change, &str); 2] = [
        (|c| c.cimd.enabled = false, "cimd.enabled is false"),
        // Enabled, but http document URLs are no longer allowed.
        (|_| {}, "only with cimd.allow_http_loopback"),
    ];
    for (change, why) in refusals {
        let app = TestApp::builder(backend)
            .on_db(db.clone())
            .config(change)
            .spawn()
            .await;
        assert_refused(authorize(&app, &client_id).await, why).await;
        let response = app.refresh(&client_id, &refresh, &[]).await;
        let description =
            assert_oauth_error(response, Status::UNAUTHORIZED, "invalid_client").await;
        assert!(description.contains(why), "{description}");
        app.stop().await;
    }

    let again = TestApp::builder(backend)
        .on_db(db)
        .config(dev)
        .spawn()
        .await;
    let response = again.refresh(&client_id, &refresh, &[]).await;
    assert_eq!(response.status(), Status::OK, "the grant was only refused");
}

/// The local development setting is refused when the issuer is not on loopback.
async fn http_loopback_documents_need_a_loopback_issuer(backend: Backend) {
    let db = crate::helpers::TestDb::new(backend).await;
    let config = tollgate::Config {
        issuer: Some("https://auth.example.com".to_owned()),
        database_url: db.url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        cimd: tollgate::config::CimdConfig {
            allow_http_loopback: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let error = tollgate::Server::bind(config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("allow_http_loopback"), "{error}");
}

/// The local development setting is refused when the server listens on a non-loopback
/// address, even though the issuer derived from a wildcard bind is on loopback.
async fn http_loopback_documents_need_a_loopback_bind(backend: Backend) {
    let db = crate::helpers::TestDb::new(backend).await;
    let mut config = tollgate::Config {
        database_url: db.url.clone(),
        bind: "0.0.0.0:0".parse().unwrap(),
        ..Default::default()
    };
    config.cimd.allow_http_loopback = true;
    let error = tollgate::Server::bind(config.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("allow_http_loopback") && error.contains("listens on a loopback"),
        "{error}"
    );
    // A listener handed in by the caller counts, not only `bind`.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    config.bind = "127.0.0.1:0".parse().unwrap();
    let launch = tollgate::Launch {
        listener: Some(listener),
        clock: None,
    };
    let error = tollgate::Server::start(config, launch)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("listens on a loopback"), "{error}");
}

/// Switched off: not advertised, and URL client ids are unknown clients.
async fn cimd_can_be_switched_off(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.cimd.enabled = false;
            c.cimd.allow_http_loopback = true;
        })
        .spawn()
        .await;
    assert!(
        app.metadata()
            .await
            .get("client_id_metadata_document_supported")
            .is_none()
    );
    let docs = DocumentServer::start().await;
    docs.publish("doc.json", "no-store");
    assert_refused(authorize(&app, &docs.url("doc.json")).await, "no client").await;
    assert_eq!(docs.hits("doc.json"), 0);
}

on_both_backends!(
    cimd_4_unsupported_grant_types_in_a_document_are_ignored,
    cimd_1_a_document_client_completes_the_flow,
    cimd_6_a_removed_client_is_fetched_and_stored_again,
    cimd_6_a_failed_fetch_is_not_cached,
    cimd_1_url_rules_are_checked_before_fetching,
    cimd_1_stored_document_clients_follow_the_configuration,
    cimd_6_cache_lifetime_is_bounded,
    cimd_2_4_5_invalid_documents_are_refused,
    cimd_7_8_only_200_counts_and_redirects_are_not_followed,
    cimd_10_big_or_slow_documents_are_refused,
    cimd_6_caching,
    cimd_9_no_fetches_to_special_use_addresses,
    cimd_9_embedded_ipv4_addresses_are_unwrapped,
    dcr_9_document_fetches_count_against_the_registration_limit,
    cimd_concurrent_fetches_of_one_url_are_coalesced,
    cimd_fetches_without_an_answer_are_remembered_briefly,
    http_loopback_documents_need_a_loopback_issuer,
    http_loopback_documents_need_a_loopback_bind,
    cimd_can_be_switched_off,
);
