//! `Store`'s device authorization methods (RFC 8628; checklist OPT-4) on both backends: a
//! user code is unique, a decision counts once and needs the page's binding, an approved
//! device code is redeemed by exactly one of many concurrent polls, and expired ones go.

use crate::helpers::{Backend, TestDb};
use crate::on_both_backends;
use serde_json::json;
use std::sync::Arc;
use tokio::task::JoinSet;
use tollgate::oauth::client::{Client, ClientPolicy, ClientSource};
use tollgate::oauth::device::{DeviceGrant, DeviceStatus};
use tollgate::store::{
    DeviceDecision, IssuedTokens, NewAccessToken, NewGrant, NewRefreshToken, PageBinding, Spent,
    Store,
};

const NOW: i64 = 1_700_000_000;
const RESOURCE: &str = "http://127.0.0.1:8000/mcp";

async fn open(backend: Backend) -> (Store, Arc<TestDb>) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let client = Client {
        client_id: "tv".to_owned(),
        secret_digest: None,
        registration_token_digest: None,
        metadata: serde_json::from_value(json!({
            "redirect_uris": [], "token_endpoint_auth_method": "none",
            "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "response_types": [],
        }))
        .unwrap(),
        created_at: NOW,
        source: ClientSource::Dynamic,
        policy: ClientPolicy::default(),
    };
    store.insert_client(&client).await.unwrap();
    (store, db)
}

fn device(digest: &str, user_code: &str) -> DeviceGrant {
    DeviceGrant {
        device_code_digest: digest.to_owned(),
        user_code: user_code.to_owned(),
        client_id: "tv".to_owned(),
        scope: "mcp:tools".to_owned(),
        resources: vec![RESOURCE.to_owned()],
        created_at: NOW,
        expires_at: NOW + 600,
        interval: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
        subject: None,
        decided_at: None,
        flow_id: Some("flow-1".to_owned()),
    }
}

fn grant(id: &str) -> NewGrant {
    NewGrant {
        id: id.to_owned(),
        client_id: "tv".to_owned(),
        subject: "alice".to_owned(),
        scope: "mcp:tools".to_owned(),
        resources: vec![RESOURCE.to_owned()],
        created_at: NOW,
        flow_id: Some("flow-1".to_owned()),
    }
}

fn tokens(jti: &str) -> IssuedTokens {
    IssuedTokens {
        access: NewAccessToken {
            jti: jti.to_owned(),
            client_id: "tv".to_owned(),
            expires_at: NOW + 300,
        },
        refresh: Some(NewRefreshToken {
            token_digest: format!("refresh-{jti}"),
            expires_at: NOW + 3600,
        }),
    }
}

const PAGE: PageBinding<'static> = PageBinding {
    csrf_digest: "csrf",
    browser_digest: "browser",
};

/// Insert (user codes unique), read by either code, record polls, bind the page, decide
/// once with the page's binding or from the command line.
async fn opt_4_device_authorizations_are_stored_polled_and_decided_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    assert!(
        store
            .insert_device_authorization(&device("d1", "WDJBMJHT"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_device_authorization(&device("d2", "WDJBMJHT"))
            .await
            .unwrap(),
        "a user code in use is refused"
    );
    assert_eq!(
        store.device_grant("d1").await.unwrap(),
        Some(device("d1", "WDJBMJHT"))
    );
    assert_eq!(
        store.device_grant_by_user_code("WDJBMJHT").await.unwrap(),
        Some(device("d1", "WDJBMJHT"))
    );
    assert_eq!(store.device_grant("d2").await.unwrap(), None);

    store.record_device_poll("d1", NOW + 1, 10).await.unwrap();
    let polled = store.device_grant("d1").await.unwrap().unwrap();
    assert_eq!((polled.last_poll_at, polled.interval), (Some(NOW + 1), 10));

    assert!(
        store
            .bind_device_page("WDJBMJHT", PAGE, NOW + 2)
            .await
            .unwrap()
    );
    let approve = DeviceDecision::Approve { subject: "alice" };
    let wrong = PageBinding {
        csrf_digest: "other",
        ..PAGE
    };
    assert!(
        store
            .device_page_matches("WDJBMJHT", PAGE, NOW + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .device_page_matches("WDJBMJHT", wrong, NOW + 2)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .decide_device("WDJBMJHT", Some(wrong), approve, NOW + 3)
            .await
            .unwrap(),
        None
    );
    let decided = store
        .decide_device("WDJBMJHT", Some(PAGE), approve, NOW + 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.status, DeviceStatus::Approved);
    assert_eq!(
        (decided.subject.as_deref(), decided.decided_at),
        (Some("alice"), Some(NOW + 3))
    );
    assert_eq!(
        store
            .decide_device("WDJBMJHT", None, DeviceDecision::Deny, NOW + 4)
            .await
            .unwrap(),
        None,
        "decided once"
    );
    assert!(
        !store
            .bind_device_page("WDJBMJHT", PAGE, NOW + 4)
            .await
            .unwrap()
    );
    assert!(
        !store
            .device_page_matches("WDJBMJHT", PAGE, NOW + 4)
            .await
            .unwrap(),
        "a decided authorization matches no form"
    );

    // The command line decides without a page; an expired code cannot be decided.
    store
        .insert_device_authorization(&device("d3", "BCDFGHJK"))
        .await
        .unwrap();
    let denied = store
        .decide_device("BCDFGHJK", None, DeviceDecision::Deny, NOW + 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (denied.status, denied.subject),
        (DeviceStatus::Denied, None)
    );
    store
        .insert_device_authorization(&device("d4", "LMNPQRST"))
        .await
        .unwrap();
    assert_eq!(
        store
            .decide_device("LMNPQRST", None, approve, NOW + 600)
            .await
            .unwrap(),
        None
    );
}

/// One approved device code, many concurrent polls: exactly one redeems it (the grant and
/// its tokens recorded), the others see a replay; a pending or expired code redeems nothing;
/// expired authorizations are swept.
async fn opt_4_an_approved_device_code_is_redeemed_once(backend: Backend) {
    let (store, _db) = open(backend).await;
    store
        .insert_device_authorization(&device("d1", "WDJBMJHT"))
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_device_code("d1", &grant("g0"), NOW + 1, &tokens("j0"))
            .await
            .unwrap(),
        Spent::NoLongerValid,
        "pending"
    );
    store
        .decide_device(
            "WDJBMJHT",
            None,
            DeviceDecision::Approve { subject: "alice" },
            NOW + 1,
        )
        .await
        .unwrap();
    let mut racers = JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        racers.spawn(async move {
            let outcome = store
                .redeem_device_code(
                    "d1",
                    &grant(&format!("g{i}")),
                    NOW + 2,
                    &tokens(&format!("j{i}")),
                )
                .await
                .unwrap();
            (i, outcome)
        });
    }
    let (order, outcomes): (Vec<usize>, Vec<Spent>) = racers.join_all().await.into_iter().unzip();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Spent::Issued).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Spent::Issued | Spent::Replayed)),
        "{outcomes:?}"
    );
    let winner = order[outcomes.iter().position(|o| *o == Spent::Issued).unwrap()];
    let access = store
        .access_token(&format!("j{winner}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.grant_id, Some(format!("g{winner}")));
    let refresh = store
        .refresh_grant(&format!("refresh-j{winner}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (refresh.subject.as_str(), refresh.flow_id.as_deref()),
        ("alice", Some("flow-1"))
    );

    store
        .insert_device_authorization(&device("d2", "BCDFGHJK"))
        .await
        .unwrap();
    store
        .decide_device(
            "BCDFGHJK",
            None,
            DeviceDecision::Approve { subject: "alice" },
            NOW + 1,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_device_code("d2", &grant("g-late"), NOW + 600, &tokens("j-late"))
            .await
            .unwrap(),
        Spent::NoLongerValid,
        "expired"
    );
    assert_eq!(
        store
            .sweep_device_authorizations(NOW + 601, 1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .sweep_device_authorizations(NOW + 601, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.device_grant("d1").await.unwrap(), None);
}

on_both_backends!(
    opt_4_device_authorizations_are_stored_polled_and_decided_once,
    opt_4_an_approved_device_code_is_redeemed_once,
);
