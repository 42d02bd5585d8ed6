//! Single-use credentials stay single-use under concurrent requests, on both backends.

use crate::helpers::{Backend, CALLBACK, TestApp, assert_oauth_error, exactly_one_success};
use crate::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::task::JoinSet;

const RACERS: usize = 32;

/// Fires `RACERS` copies of a token request at once and returns each status with its body.
async fn race(app: &Arc<TestApp>, form: Vec<(&'static str, String)>) -> Vec<(StatusCode, Value)> {
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let app = Arc::clone(app);
        let form = form.clone();
        set.spawn(async move {
            let response = app
                .http
                .post(app.url("/token"))
                .form(&form)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    set.join_all().await
}

/// 32 concurrent redemptions of one code: exactly one token response, 31 `invalid_grant`,
/// and the replays revoke what the winner got (TK-5).
async fn one_code_redeemed_32_times_at_once_yields_one_token(backend: Backend) {
    let app = Arc::new(
        TestApp::builder(backend)
            .with_resource_server()
            .spawn()
            .await,
    );
    let client = app.public_client().await;
    let code = app.code(&client.client_id).await;
    let results = race(
        &app,
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("code_verifier", crate::helpers::VERIFIER.to_owned()),
            ("client_id", client.client_id.clone()),
        ],
    )
    .await;
    let tokens = exactly_one_success(results);
    let refresh = app
        .refresh(
            &client.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&app.resource_server(), access).await["active"],
        false
    );
}

/// 32 concurrent uses of one refresh token: exactly one new pair, and since the other 31
/// are reuse, the grant is then revoked, the new pair with it.
async fn one_refresh_token_used_32_times_at_once_yields_one_pair(backend: Backend) {
    let app = Arc::new(
        TestApp::builder(backend)
            .with_resource_server()
            .spawn()
            .await,
    );
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let tokens = app.tokens(&client.client_id).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut set = JoinSet::new();
    for _ in 0..RACERS {
        let app = Arc::clone(&app);
        let (client_id, refresh) = (client.client_id.clone(), refresh.clone());
        set.spawn(async move {
            let response = app.refresh(&client_id, &refresh, &[]).await;
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let new_pair = exactly_one_success(set.join_all().await);
    let after = app
        .refresh(
            &client.client_id,
            new_pair["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    // The reuse rule applied: the grant is revoked, the new pair with it.
    assert_oauth_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let access = new_pair["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(&resource_server, access).await["active"],
        false
    );
}

/// Concurrent dynamic registrations all succeed with distinct client ids.
async fn concurrent_registrations_never_collide(backend: Backend) {
    let app = Arc::new(
        TestApp::builder(backend)
            .config(|c| c.registration.per_minute = 1000)
            .spawn()
            .await,
    );
    let mut set = JoinSet::new();
    for i in 0..RACERS {
        let app = Arc::clone(&app);
        set.spawn(async move {
            let response = app
                .register(&json!({
                    "client_name": format!("client {i}"),
                    "redirect_uris": [CALLBACK],
                    "token_endpoint_auth_method": "none"
                }))
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: serde_json::Value = response.json().await.unwrap();
            body["client_id"].as_str().unwrap().to_owned()
        });
    }
    let mut ids = set.join_all().await;
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), RACERS);
    // Every one of them is usable.
    for id in ids.iter().take(3) {
        app.code(id).await;
    }
}

on_both_backends!(
    one_code_redeemed_32_times_at_once_yields_one_token,
    one_refresh_token_used_32_times_at_once_yields_one_pair,
    concurrent_registrations_never_collide,
);
