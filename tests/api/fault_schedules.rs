//! When faults fire (issue 14): `nth`, `every`, `times`, `probability` with a `seed`,
//! exactly on the declared requests; and the control API's list of faults.

use crate::helpers::{Backend, TestApp, types};
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Counts as listed by the control API: (matched, fired).
async fn counts(app: &TestApp, name: &str) -> (u64, u64) {
    let fault = app.fault(name).await;
    (
        fault["matched"].as_u64().unwrap(),
        fault["fired"].as_u64().unwrap(),
    )
}

/// `nth`, `every`, `times`: exactly the declared requests, whoever else asks.
async fn schedules_fire_on_exactly_the_declared_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_fault(
        json!({"name": "2 and 5", "endpoint": "jwks", "status": 500, "nth": 2,
        "every": 3, "times": 2}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let response = app.http.get(app.url("/jwks.json")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 500, 200, 200, 500, 200, 200, 200, 200, 200]);
    assert_eq!(counts(&app, "2 and 5").await, (10, 2));
    let events = app.all_events().await;
    let kinds: Vec<&str> = types(&events)
        .into_iter()
        .filter(|t| *t != "control")
        .collect();
    assert_eq!(kinds.iter().filter(|t| **t == "fault.injected").count(), 2);
}

/// `probability` with a `seed`: the same requests in every run; a different seed, others.
async fn probabilities_repeat_with_their_seed(backend: Backend) {
    let run = |seed: u64| async move {
        let app = TestApp::spawn(backend).await;
        app.add_fault(
            json!({"name": "flaky", "endpoint": "metadata", "status": 503,
            "probability": 0.3, "seed": seed}),
        )
        .await;
        let mut failed = Vec::new();
        for i in 1..=40 {
            let response = app
                .http
                .get(format!(
                    "http://{}/.well-known/oauth-authorization-server",
                    app.addr
                ))
                .send()
                .await
                .unwrap();
            if response.status() != StatusCode::OK {
                failed.push(i);
            }
        }
        assert_eq!(counts(&app, "flaky").await, (40, failed.len() as u64));
        failed
    };
    let first = run(11).await;
    assert_eq!(first, run(11).await);
    assert_ne!(first, run(12).await);
    assert!((4..=20).contains(&first.len()), "{first:?}");
}

/// The control API lists, removes and clears faults, and refuses those that cannot fire
/// with the key to fix; an array is added whole or not at all.
async fn the_fault_api(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.faults = vec![
                serde_json::from_value(json!({"name": "declared", "endpoint": "revoke",
                    "status": 500}))
                .unwrap(),
            ]
        })
        .spawn()
        .await;
    let listed = app.faults().await;
    assert_eq!(
        listed,
        [
            json!({"name": "declared", "endpoint": "revoke", "status": 500,
            "source": "configuration", "action": "status 500 server_error", "matched": 0,
            "fired": 0})
        ]
    );
    let added = app
        .add_fault(json!({"endpoint": "token", "delay": "2s"}))
        .await;
    assert_eq!(added["name"], "token-1");
    assert_eq!(added["delay"], "2s");
    assert_eq!(added["source"], "control");

    let (status, refused) = app
        .control(
            Method::POST,
            "/faults",
            Some(json!([
                {"name": "ok", "endpoint": "token", "status": 503},
                {"name": "bad", "endpoint": "jwks", "lie": "iss_missing"},
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused,
        json!({"error": "invalid_fault", "error_description": "faults[1]: lie: 'iss_missing' \
            is told by the authorize endpoint, not by jwks, so this fault would never fire"})
    );
    let (status, refused) = app
        .control(
            Method::POST,
            "/faults",
            Some(json!({"endpoint": "token", "stauts": 503})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .starts_with("the fault does not have the keys of [[faults]]: unknown field `stauts`"),
        "{refused}"
    );
    let (status, refused) = app
        .control(
            Method::POST,
            "/faults",
            Some(json!({"name": "declared",
            "endpoint": "token", "drop": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused["error_description"],
        "name: 'declared' names a fault already; remove it first or choose another name"
    );
    let names: Vec<Value> = app
        .faults()
        .await
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(
        names,
        ["declared", "token-1"],
        "the array was not added in part"
    );

    let (status, _) = app.control(Method::DELETE, "/faults/token-1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, missing) = app.control(Method::DELETE, "/faults/token-1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error_description"], "no fault is called 'token-1'");
    let cleared = app.control_ok(Method::DELETE, "/faults", None).await;
    assert_eq!(cleared, json!({"removed": 1}));
    assert!(app.faults().await.is_empty());
    let operations: Vec<Value> = app
        .all_events()
        .await
        .iter()
        .filter(|e| e["type"] == "control")
        .map(|e| e["details"]["operation"].clone())
        .collect();
    assert_eq!(operations, ["faults.add", "faults.remove", "faults.clear"]);
}

on_both_backends!(
    schedules_fire_on_exactly_the_declared_requests,
    probabilities_repeat_with_their_seed,
    the_fault_api,
);
