//! State survives a restart: clients, grants and the signing key.

use crate::helpers::{Backend, TestApp, TestDb};
use crate::on_both_backends;
use reqwest::StatusCode;

async fn restart_keeps_clients_grants_and_the_signing_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = TestApp::builder(backend).on_db(db.clone()).spawn().await;
    let client = first.public_client().await;
    let tokens = first.tokens(&client.client_id).await;
    let jwks = first.jwks().await;
    first.stop().await;

    let second = TestApp::builder(backend).on_db(db).spawn().await;
    assert_eq!(
        second.jwks().await,
        jwks,
        "the key is generated once and reused"
    );
    let refreshed = second
        .refresh(
            &client.client_id,
            tokens["refresh_token"].as_str().unwrap(),
            &[],
        )
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK, "the grant survived");
    // The client is still registered: a new flow works.
    second.tokens(&client.client_id).await;
}

on_both_backends!(restart_keeps_clients_grants_and_the_signing_key);
