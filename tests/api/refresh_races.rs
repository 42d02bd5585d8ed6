//! A refresh token used twice (TK-16): with `refresh.reuse = "strict"` (the default) the
//! second use revokes the grant; with `"grace"` a second use within `refresh.grace_period`
//! gets the same tokens as the first, and after it revokes as in strict mode. Either way
//! the event log names both requests and the time between them.

use crate::helpers::{Backend, TestApp, assert_oauth_error};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::task::JoinSet;
use tollgate::config::RefreshReuse;

async fn grace(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.refresh.reuse = RefreshReuse::Grace;
            c.refresh.grace_period = Duration::from_secs(10);
        })
        .spawn()
        .await
}

/// A public client with a fresh grant; returns its id and refresh token.
async fn granted(app: &TestApp) -> (String, String) {
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    (client.client_id, refresh)
}

async fn refreshed(app: &TestApp, client_id: &str, refresh_token: &str) -> Value {
    let response = app.refresh(client_id, refresh_token, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The ids of the client's token requests that used a refresh token, in order.
async fn refresh_requests(app: &TestApp, client_id: &str) -> Vec<String> {
    app.events_of_type(client_id, "token.request")
        .await
        .into_iter()
        .filter(|e| e["details"]["grant_type"] == "refresh_token")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The one `token.replay` event of the client.
async fn the_reuse(app: &TestApp, client_id: &str) -> Value {
    let mut reuses = app.events_of_type(client_id, "token.replay").await;
    assert_eq!(reuses.len(), 1, "{reuses:?}");
    reuses.remove(0)
}

/// TK-16, strict (the default): the second use is refused and revokes the family; the
/// event and the hint name the request that used the token first and the time between.
async fn tk_16_strict_reuse_revokes_and_names_both_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (client_id, r1) = granted(&app).await;
    let first = refreshed(&app, &client_id, &r1).await;
    app.clock.advance(2);
    let again = app.refresh(&client_id, &r1, &[]).await;
    assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r2 = first["refresh_token"].as_str().unwrap();
    let revoked = app.refresh(&client_id, r2, &[]).await;
    assert_oauth_error(revoked, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let requests = refresh_requests(&app, &client_id).await;
    let reuse = the_reuse(&app, &client_id).await;
    assert_eq!(reuse["outcome"], "rejected");
    assert_eq!(reuse["rule"]["id"], "TK-16");
    assert_eq!(reuse["details"]["first_request"], requests[0].as_str());
    assert_eq!(reuse["details"]["second_request"], requests[1].as_str());
    assert_eq!(reuse["details"]["gap_ms"], 2000);
    assert_eq!(reuse["details"]["reuse"], "strict");
    let description = reuse["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("2 s after request {} used it", requests[0]))
            && description.contains(&requests[1]),
        "{description}"
    );
    let hint = reuse["hint"].as_str().unwrap();
    assert!(hint.contains(&requests[0]), "{hint}");
    assert!(hint.contains("refresh.reuse = \"grace\""), "{hint}");
    assert_eq!(
        app.events_of_type(&client_id, "grant.revoked").await.len(),
        1
    );
}

/// Grace: a second use within the grace period gets the same access and refresh token,
/// with the access token's remaining lifetime; the grant stands, and the successor works.
async fn grace_a_second_use_within_the_grace_period_gets_the_same_tokens(backend: Backend) {
    let app = grace(backend).await;
    let (client_id, r1) = granted(&app).await;
    let first = refreshed(&app, &client_id, &r1).await;
    app.clock.advance(3);
    let second = refreshed(&app, &client_id, &r1).await;
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["scope"], first["scope"]);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(
        second["expires_in"].as_i64().unwrap(),
        first["expires_in"].as_i64().unwrap() - 3
    );
    // The successor rotates as usual, and the grant was not revoked.
    let r2 = first["refresh_token"].as_str().unwrap();
    let third = refreshed(&app, &client_id, r2).await;
    assert_ne!(third["refresh_token"], first["refresh_token"]);

    let requests = refresh_requests(&app, &client_id).await;
    let reuse = the_reuse(&app, &client_id).await;
    assert_eq!(reuse["outcome"], "ok");
    assert_eq!(reuse["details"]["first_request"], requests[0].as_str());
    assert_eq!(reuse["details"]["second_request"], requests[1].as_str());
    assert_eq!(reuse["details"]["gap_ms"], 3000);
    assert_eq!(reuse["details"]["reuse"], "grace");
    assert_eq!(reuse["details"]["grace_period_ms"], 10_000);
    assert!(
        app.events_of_type(&client_id, "grant.revoked")
            .await
            .is_empty()
    );
}

/// Grace: after the grace period, a second use revokes the family as in strict mode, and
/// says it came too late.
async fn grace_a_second_use_after_the_grace_period_revokes(backend: Backend) {
    let app = grace(backend).await;
    let (client_id, r1) = granted(&app).await;
    let first = refreshed(&app, &client_id, &r1).await;
    app.clock.advance(10);
    let late = app.refresh(&client_id, &r1, &[]).await;
    assert_oauth_error(late, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r2 = first["refresh_token"].as_str().unwrap();
    let revoked = app.refresh(&client_id, r2, &[]).await;
    assert_oauth_error(revoked, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let reuse = the_reuse(&app, &client_id).await;
    assert_eq!(reuse["outcome"], "rejected");
    assert_eq!(reuse["details"]["gap_ms"], 10_000);
    let hint = reuse["hint"].as_str().unwrap();
    assert!(hint.contains("refresh.grace_period (10 s)"), "{hint}");
}

/// Grace: many uses of one refresh token at once (a client refreshing from several
/// places) all get the same tokens, and the grant stands.
async fn grace_concurrent_uses_all_get_the_same_tokens(backend: Backend) {
    let app = grace(backend).await;
    let (client_id, r1) = granted(&app).await;
    let mut racers = JoinSet::new();
    for _ in 0..8 {
        let http = app.http.clone();
        let url = app.url("/token");
        let form = [
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", r1.clone()),
            ("client_id", client_id.clone()),
        ];
        racers.spawn(async move {
            let response = http.post(url).form(&form).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let answers = racers.join_all().await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["access_token"], answers[0].1["access_token"]);
        assert_eq!(body["refresh_token"], answers[0].1["refresh_token"]);
    }
    let r2 = answers[0].1["refresh_token"].as_str().unwrap();
    refreshed(&app, &client_id, r2).await;
    let reuses = app.events_of_type(&client_id, "token.replay").await;
    assert_eq!(reuses.len(), 7, "every use but the first is named");
    let requests = refresh_requests(&app, &client_id).await;
    for reuse in &reuses {
        assert_eq!(reuse["outcome"], "ok");
        let first = reuse["details"]["first_request"].as_str().unwrap();
        assert!(requests.iter().any(|r| r == first), "{reuse}");
        assert_ne!(reuse["details"]["second_request"], first);
    }
}

/// Another client cannot use the grace period to get someone's tokens: a refresh token
/// is bound to its client before anything else (TK-17).
async fn grace_does_not_hand_tokens_to_another_client(backend: Backend) {
    let app = grace(backend).await;
    let (client_id, r1) = granted(&app).await;
    refreshed(&app, &client_id, &r1).await;
    let other = app.public_client().await;
    let response = app.refresh(&other.client_id, &r1, &[]).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

on_both_backends!(
    tk_16_strict_reuse_revokes_and_names_both_requests,
    grace_a_second_use_within_the_grace_period_gets_the_same_tokens,
    grace_a_second_use_after_the_grace_period_revokes,
    grace_concurrent_uses_all_get_the_same_tokens,
    grace_does_not_hand_tokens_to_another_client,
);
