//! `tollgate::store::Store` on its own: every public method, called directly on a real
//! SQLite file and a real PostgreSQL database (the same SQL runs on both), including the
//! single-winner guarantees the token endpoint relies on under concurrent requests.

use crate::helpers::{Backend, TestDb};
use crate::on_both_backends;
use serde_json::json;
use std::sync::Arc;
use tokio::task::JoinSet;
use tollgate::config::ConsentMode;
use tollgate::oauth::access_token::AccessTokenClaims;
use tollgate::oauth::client::{Client, ClientMetadata, ClientPolicy, ClientSource};
use tollgate::oauth::event::{Event, EventType, Outcome};
use tollgate::store::{
    AuthorizationRequest, EventFilter, GrantCursor, IssuedTokens, NewAccessToken, NewCode,
    NewGrant, NewRefreshToken, Rotation, ServerSetting, Spent, Store, StoreError,
};

/// The time of every test here, in seconds since the epoch: the store never reads a clock.
const NOW: i64 = 1_700_000_000;
const CALLBACK: &str = "http://127.0.0.1:53682/callback";
const RESOURCE: &str = "http://127.0.0.1:8000/mcp";
/// How many callers race for one single-use thing.
const RACERS: usize = 16;

/// A migrated store on its own database; the database is dropped after the store.
struct Db {
    store: Store,
    _db: Arc<TestDb>,
}

async fn open(backend: Backend) -> Db {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    Db { store, _db: db }
}

fn metadata(name: &str) -> ClientMetadata {
    serde_json::from_value(json!({
        "redirect_uris": [CALLBACK],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": name,
    }))
    .unwrap()
}

fn client(client_id: &str, source: ClientSource, created_at: i64) -> Client {
    Client {
        client_id: client_id.to_owned(),
        secret_digest: None,
        registration_token_digest: None,
        metadata: metadata("A Client"),
        created_at,
        source,
        policy: ClientPolicy::default(),
    }
}

/// `Client` has no `PartialEq`: every field, compared.
fn assert_same_client(found: &Client, expected: &Client) {
    assert_eq!(found.client_id, expected.client_id);
    assert_eq!(found.secret_digest, expected.secret_digest, "secret_digest");
    assert_eq!(
        found.registration_token_digest, expected.registration_token_digest,
        "registration_token_digest"
    );
    assert_eq!(found.metadata, expected.metadata, "metadata");
    assert_eq!(found.created_at, expected.created_at, "created_at");
    assert_eq!(found.source, expected.source, "source");
    assert_eq!(found.policy, expected.policy, "policy");
}

fn ids(clients: &[Client]) -> Vec<&str> {
    clients.iter().map(|c| c.client_id.as_str()).collect()
}

fn grant(id: &str, client_id: &str) -> NewGrant {
    NewGrant {
        id: id.to_owned(),
        client_id: client_id.to_owned(),
        subject: "alice".to_owned(),
        scope: "mcp:tools openid".to_owned(),
        resources: vec![RESOURCE.to_owned(), "http://127.0.0.1:8001/mcp".to_owned()],
        created_at: NOW,
        flow_id: Some(format!("flow-{id}")),
    }
}

fn code(digest: &str, expires_at: i64) -> NewCode {
    NewCode {
        code_digest: digest.to_owned(),
        redirect_uri: CALLBACK.to_owned(),
        code_challenge: "challenge".to_owned(),
        nonce: Some("n-0S6".to_owned()),
        expires_at,
    }
}

/// The tokens of one redemption or rotation: access token `jti`, refresh token `refresh`.
fn tokens(client_id: &str, jti: &str, refresh: Option<&str>) -> IssuedTokens {
    IssuedTokens {
        access: NewAccessToken {
            jti: jti.to_owned(),
            client_id: client_id.to_owned(),
            expires_at: NOW + 300,
        },
        refresh: refresh.map(|digest| NewRefreshToken {
            token_digest: digest.to_owned(),
            expires_at: NOW + 3600,
        }),
    }
}

/// A client with a grant and an unredeemed code `code_digest` (valid for 60 s).
async fn approved(store: &Store, client_id: &str, grant_id: &str, code_digest: &str) {
    if store.client(client_id).await.unwrap().is_none() {
        store
            .insert_client(&client(client_id, ClientSource::Dynamic, NOW))
            .await
            .unwrap();
    }
    store
        .insert_grant_with_code(&grant(grant_id, client_id), &code(code_digest, NOW + 60))
        .await
        .unwrap();
}

/// `connect` picks the backend by the URL, `migrate` may run again, `ping` answers until
/// `close`; an unknown scheme is refused without printing its password.
async fn connect_migrate_ping_and_close(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(store.backend_name(), expected);
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(sqlx::Error::PoolClosed))
    ));

    let error = Store::connect("mysql://root:hunter2@db/tollgate")
        .await
        .err()
        .unwrap();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("mysql://") && !message.contains("hunter2"),
        "{message}"
    );
}

/// Clients go in and come back field for field (a non-default policy as well as the
/// default one); reads by id, by source and in full are ordered by creation; an id with a
/// control character names no client, even on PostgreSQL, which cannot hold NUL.
async fn clients_are_stored_read_and_listed(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    assert!(store.all_clients().await.unwrap().is_empty());

    let dynamic = Client {
        secret_digest: Some("secret-digest".to_owned()),
        registration_token_digest: Some("registration-digest".to_owned()),
        ..client("b-dynamic", ClientSource::Dynamic, NOW)
    };
    let declared = Client {
        policy: ClientPolicy {
            allowed_scopes: vec!["mcp:tools".to_owned()],
            consent: Some(ConsentMode::Auto),
            user: Some("bob".to_owned()),
            introspection: true,
        },
        ..client("declared", ClientSource::Declared, NOW - 10)
    };
    let cli = client("cli", ClientSource::Cli, NOW + 10);
    // Same time as `dynamic`: the id breaks the tie.
    let other_dynamic = client("a-dynamic", ClientSource::Dynamic, NOW);
    let document = client(
        "https://app.example.com/client.json",
        ClientSource::Document,
        NOW + 20,
    );
    for client in [&dynamic, &declared, &cli, &other_dynamic, &document] {
        store.insert_client(client).await.unwrap();
    }

    for expected in [&dynamic, &declared, &cli, &other_dynamic, &document] {
        let found = store.client(&expected.client_id).await.unwrap().unwrap();
        assert_same_client(&found, expected);
        assert_eq!(
            store.client_source(&expected.client_id).await.unwrap(),
            Some(expected.source)
        );
    }
    for unknown in ["no-such-client", "a\0b", "\u{1}", "x\ny"] {
        assert!(
            store.client(unknown).await.unwrap().is_none(),
            "{unknown:?}"
        );
        assert_eq!(store.client_source(unknown).await.unwrap(), None);
    }

    assert_eq!(
        ids(&store.clients_from(ClientSource::Dynamic).await.unwrap()),
        ["a-dynamic", "b-dynamic"]
    );
    assert_eq!(
        ids(&store.clients_from(ClientSource::Declared).await.unwrap()),
        ["declared"]
    );
    assert_eq!(
        ids(&store.clients_from(ClientSource::Cli).await.unwrap()),
        ["cli"]
    );
    assert_eq!(
        ids(&store.clients_from(ClientSource::Document).await.unwrap()),
        ["https://app.example.com/client.json"]
    );
    assert_eq!(
        ids(&store.all_clients().await.unwrap()),
        [
            "declared",
            "a-dynamic",
            "b-dynamic",
            "cli",
            "https://app.example.com/client.json"
        ]
    );

    // A second client with an id in use is an error, not a silent overwrite.
    let duplicate = client("b-dynamic", ClientSource::Cli, NOW);
    assert!(matches!(
        store.insert_client(&duplicate).await,
        Err(StoreError::Database(_))
    ));
    assert_same_client(&store.client("b-dynamic").await.unwrap().unwrap(), &dynamic);
}

/// `upsert_owned_client` inserts, updates what the same source made (secret, metadata,
/// policy; not the creation time), and refuses, changing nothing, a client another source
/// made.
async fn upsert_owned_client_writes_only_its_own_source(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    let first = Client {
        secret_digest: Some("one".to_owned()),
        ..client("declared", ClientSource::Declared, NOW)
    };
    assert!(store.upsert_owned_client(&first).await.unwrap());
    assert_same_client(&store.client("declared").await.unwrap().unwrap(), &first);

    let changed = Client {
        secret_digest: Some("two".to_owned()),
        metadata: metadata("Renamed"),
        policy: ClientPolicy {
            introspection: true,
            ..ClientPolicy::default()
        },
        created_at: NOW + 100,
        ..first.clone()
    };
    assert!(store.upsert_owned_client(&changed).await.unwrap());
    assert_same_client(
        &store.client("declared").await.unwrap().unwrap(),
        &Client {
            created_at: NOW,
            ..changed.clone()
        },
    );

    // A metadata document cannot take over the declared client's id...
    let document = Client {
        metadata: metadata("Hijacked"),
        ..client("declared", ClientSource::Document, NOW)
    };
    assert!(!store.upsert_owned_client(&document).await.unwrap());
    assert_eq!(
        store.client_source("declared").await.unwrap(),
        Some(ClientSource::Declared)
    );
    assert_eq!(
        store.client("declared").await.unwrap().unwrap().metadata,
        metadata("Renamed")
    );
    // ...nor the configuration a dynamically registered one's, which keeps its
    // registration access token.
    let dynamic = Client {
        registration_token_digest: Some("registration".to_owned()),
        ..client("dynamic", ClientSource::Dynamic, NOW)
    };
    store.insert_client(&dynamic).await.unwrap();
    let declared = Client {
        secret_digest: Some("declared-secret".to_owned()),
        ..client("dynamic", ClientSource::Declared, NOW)
    };
    assert!(!store.upsert_owned_client(&declared).await.unwrap());
    assert_same_client(&store.client("dynamic").await.unwrap().unwrap(), &dynamic);
}

/// A declared client's stored secret is replaced only from the digest the caller read; a
/// client of another source keeps its secret.
async fn replace_declared_secret_needs_the_current_digest(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    let declared = Client {
        secret_digest: Some("slow-hash".to_owned()),
        ..client("declared", ClientSource::Declared, NOW)
    };
    store.upsert_owned_client(&declared).await.unwrap();
    let secret =
        |id: &'static str| async move { store.client(id).await.unwrap().unwrap().secret_digest };

    assert!(
        store
            .replace_declared_secret("declared", "slow-hash", "fast-hash")
            .await
            .unwrap()
    );
    assert_eq!(secret("declared").await.as_deref(), Some("fast-hash"));
    // Stale: someone replaced it first.
    assert!(
        !store
            .replace_declared_secret("declared", "slow-hash", "other-hash")
            .await
            .unwrap()
    );
    assert_eq!(secret("declared").await.as_deref(), Some("fast-hash"));

    let cli = Client {
        secret_digest: Some("slow-hash".to_owned()),
        ..client("cli", ClientSource::Cli, NOW)
    };
    store.insert_client(&cli).await.unwrap();
    assert!(
        !store
            .replace_declared_secret("cli", "slow-hash", "fast-hash")
            .await
            .unwrap()
    );
    assert_eq!(secret("cli").await.as_deref(), Some("slow-hash"));
    assert!(
        !store
            .replace_declared_secret("no-such-client", "slow-hash", "fast-hash")
            .await
            .unwrap()
    );
}

/// RFC 7592 §5: each use of a registration access token replaces it, with new metadata
/// when given; of concurrent uses of one token exactly one wins, and its token is the one
/// stored.
async fn rotate_registration_token_has_a_single_winner(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    let dynamic = Client {
        registration_token_digest: Some("t0".to_owned()),
        ..client("dynamic", ClientSource::Dynamic, NOW)
    };
    store.insert_client(&dynamic).await.unwrap();
    let stored = || async { store.client("dynamic").await.unwrap().unwrap() };

    assert!(
        store
            .rotate_registration_token("dynamic", "t0", "t1", None)
            .await
            .unwrap()
    );
    let read = stored().await;
    assert_eq!(read.registration_token_digest.as_deref(), Some("t1"));
    assert_eq!(read.metadata, dynamic.metadata, "a read keeps the metadata");
    // The used token is spent; another client's id does not match it either.
    assert!(
        !store
            .rotate_registration_token("dynamic", "t0", "t2", None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_registration_token("other", "t1", "t2", None)
            .await
            .unwrap()
    );
    let renamed = metadata("Renamed");
    assert!(
        store
            .rotate_registration_token("dynamic", "t1", "t2", Some(&renamed))
            .await
            .unwrap()
    );
    let updated = stored().await;
    assert_eq!(updated.registration_token_digest.as_deref(), Some("t2"));
    assert_eq!(updated.metadata, renamed);

    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            let next = format!("next-{i}");
            let won = store
                .rotate_registration_token("dynamic", "t2", &next, None)
                .await
                .unwrap();
            (won, next)
        });
    }
    let winners: Vec<String> = racers
        .join_all()
        .await
        .into_iter()
        .filter_map(|(won, next)| won.then_some(next))
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(
        stored().await.registration_token_digest.as_ref(),
        Some(&winners[0])
    );
}

/// Deleting a client takes everything issued to it: grants, codes, refresh tokens, access
/// tokens with and without a grant, pending authorization requests. Other clients keep
/// theirs.
async fn delete_client_takes_everything_issued_to_it(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    for (client_id, suffix) in [("doomed", "d"), ("kept", "k")] {
        approved(
            store,
            client_id,
            &format!("grant-{suffix}"),
            &format!("code-{suffix}"),
        )
        .await;
        let spent = store
            .redeem_code(
                &format!("code-{suffix}"),
                &format!("grant-{suffix}"),
                NOW,
                &tokens(
                    client_id,
                    &format!("jti-{suffix}"),
                    Some(&format!("refresh-{suffix}")),
                ),
            )
            .await
            .unwrap();
        assert_eq!(spent, Spent::Issued);
        store
            .insert_grant_with_code(
                &grant(&format!("grant2-{suffix}"), client_id),
                &code(&format!("unredeemed-{suffix}"), NOW + 60),
            )
            .await
            .unwrap();
        let machine = NewAccessToken {
            jti: format!("machine-{suffix}"),
            client_id: client_id.to_owned(),
            expires_at: NOW + 300,
        };
        store
            .insert_access_token(&machine, None, NOW)
            .await
            .unwrap();
        store
            .insert_authorization_request(&request(&format!("request-{suffix}"), client_id))
            .await
            .unwrap();
    }

    assert!(store.delete_client("doomed").await.unwrap());
    assert!(store.client("doomed").await.unwrap().is_none());
    assert!(store.code_grant("code-d").await.unwrap().is_none());
    assert!(store.code_grant("unredeemed-d").await.unwrap().is_none());
    assert!(store.refresh_grant("refresh-d").await.unwrap().is_none());
    assert!(store.access_token("jti-d").await.unwrap().is_none());
    assert!(store.access_token("machine-d").await.unwrap().is_none());
    assert!(
        store
            .authorization_request("request-d")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store.delete_client("doomed").await.unwrap(),
        "gone already"
    );

    assert!(store.client("kept").await.unwrap().is_some());
    assert!(store.code_grant("code-k").await.unwrap().is_some());
    assert!(store.code_grant("unredeemed-k").await.unwrap().is_some());
    assert!(store.refresh_grant("refresh-k").await.unwrap().is_some());
    assert!(store.access_token("jti-k").await.unwrap().is_some());
    assert!(store.access_token("machine-k").await.unwrap().is_some());
    assert!(
        store
            .authorization_request("request-k")
            .await
            .unwrap()
            .is_some()
    );
}

fn request(id: &str, client_id: &str) -> AuthorizationRequest {
    AuthorizationRequest {
        id: id.to_owned(),
        csrf_digest: "csrf".to_owned(),
        browser_digest: "browser".to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: CALLBACK.to_owned(),
        state: Some("st1".to_owned()),
        code_challenge: "challenge".to_owned(),
        scope: "mcp:tools".to_owned(),
        resources: vec![RESOURCE.to_owned()],
        nonce: Some("nonce".to_owned()),
        expires_at: NOW + 600,
        flow_id: Some(format!("flow-{id}")),
    }
}

/// `AuthorizationRequest` has no `PartialEq` either.
fn assert_same_request(found: &AuthorizationRequest, expected: &AuthorizationRequest) {
    assert_eq!(
        format!("{found:?}"),
        format!("{expected:?}"),
        "every field round-trips"
    );
}

/// A pending authorization request can be read any number of times, and taken once: with
/// its CSRF digest, from its browser, before it expires; of concurrent takes one wins.
async fn authorization_requests_are_taken_once(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    store
        .insert_client(&client("client", ClientSource::Dynamic, NOW))
        .await
        .unwrap();
    let pending = request("request", "client");
    store.insert_authorization_request(&pending).await.unwrap();
    let without_extras = AuthorizationRequest {
        id: "plain".to_owned(),
        state: None,
        nonce: None,
        resources: Vec::new(),
        ..pending.clone()
    };
    store
        .insert_authorization_request(&without_extras)
        .await
        .unwrap();
    for _ in 0..2 {
        let found = store
            .authorization_request("request")
            .await
            .unwrap()
            .unwrap();
        assert_same_request(&found, &pending);
    }
    let found = store.authorization_request("plain").await.unwrap().unwrap();
    assert_same_request(&found, &without_extras);
    assert!(
        store
            .authorization_request("no-such-request")
            .await
            .unwrap()
            .is_none()
    );

    for (csrf, browser, now, why) in [
        ("forged", "browser", NOW, "another CSRF token"),
        ("csrf", "other-browser", NOW, "another browser"),
        ("csrf", "browser", NOW + 600, "expired"),
    ] {
        let taken = store
            .take_authorization_request("request", csrf, browser, now)
            .await
            .unwrap();
        assert!(taken.is_none(), "{why}");
    }
    let taken = store
        .take_authorization_request("request", "csrf", "browser", NOW + 599)
        .await
        .unwrap()
        .expect("the right CSRF token from the right browser in time");
    assert_same_request(&taken, &pending);
    assert!(
        store
            .take_authorization_request("request", "csrf", "browser", NOW)
            .await
            .unwrap()
            .is_none(),
        "taken once"
    );
    assert!(
        store
            .authorization_request("request")
            .await
            .unwrap()
            .is_none()
    );

    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            store
                .take_authorization_request("plain", "csrf", "browser", NOW)
                .await
                .unwrap()
                .is_some()
        });
    }
    let taken = racers.join_all().await.into_iter().filter(|t| *t).count();
    assert_eq!(taken, 1, "a double submit cannot make two codes");
}

/// A code is read with its grant, redeemed once (the tokens recorded in the same step),
/// and a second redemption is a replay that revokes the grant; an expired code or one of
/// a revoked grant is no longer valid, and revokes nothing.
async fn codes_are_redeemed_once(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    approved(store, "client", "grant", "code").await;
    assert!(store.code_grant("no-such-code").await.unwrap().is_none());
    let read = store.code_grant("code").await.unwrap().unwrap();
    let expected_grant = grant("grant", "client");
    let expected_code = code("code", NOW + 60);
    assert_eq!(read.grant_id, "grant");
    assert_eq!(read.client_id, "client");
    assert_eq!(read.subject, expected_grant.subject);
    assert_eq!(read.scope, expected_grant.scope);
    assert_eq!(read.resources, expected_grant.resources);
    assert_eq!(read.redirect_uri, expected_code.redirect_uri);
    assert_eq!(read.code_challenge, expected_code.code_challenge);
    assert_eq!(read.nonce, expected_code.nonce);
    assert_eq!(read.approved_at, NOW);
    assert_eq!(read.expires_at, NOW + 60);
    assert_eq!((read.redeemed_at, read.revoked_at), (None, None));

    let first = tokens("client", "jti-1", Some("refresh-1"));
    let spent = store
        .redeem_code("code", "grant", NOW + 1, &first)
        .await
        .unwrap();
    assert_eq!(spent, Spent::Issued);
    assert_eq!(
        store.code_grant("code").await.unwrap().unwrap().redeemed_at,
        Some(NOW + 1)
    );
    let access = store.access_token("jti-1").await.unwrap().unwrap();
    assert_eq!(access.client_id, "client");
    assert_eq!(access.grant_id.as_deref(), Some("grant"));
    assert_eq!(access.expires_at, NOW + 300);
    assert_eq!((access.revoked_at, access.grant_revoked_at), (None, None));
    let refresh = store.refresh_grant("refresh-1").await.unwrap().unwrap();
    assert_eq!(refresh.grant_id, "grant");
    assert_eq!(
        (refresh.issued_at, refresh.expires_at),
        (NOW + 1, NOW + 3600)
    );

    // The replay: nothing new is recorded, and the family is revoked.
    let second = tokens("client", "jti-2", Some("refresh-2"));
    let spent = store
        .redeem_code("code", "grant", NOW + 2, &second)
        .await
        .unwrap();
    assert_eq!(spent, Spent::Replayed);
    assert!(store.access_token("jti-2").await.unwrap().is_none());
    assert!(store.refresh_grant("refresh-2").await.unwrap().is_none());
    assert_eq!(
        store.code_grant("code").await.unwrap().unwrap().revoked_at,
        Some(NOW + 2)
    );
    assert_eq!(
        store
            .access_token("jti-1")
            .await
            .unwrap()
            .unwrap()
            .grant_revoked_at,
        Some(NOW + 2)
    );
    assert_eq!(
        store
            .refresh_grant("refresh-1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW + 2)
    );

    // Expired by the time of the write (it expires at NOW + 60).
    approved(store, "client", "late-grant", "late-code").await;
    let spent = store
        .redeem_code(
            "late-code",
            "late-grant",
            NOW + 60,
            &tokens("client", "jti-3", None),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::NoLongerValid);
    let late = store.code_grant("late-code").await.unwrap().unwrap();
    assert_eq!((late.redeemed_at, late.revoked_at), (None, None));
    assert!(store.access_token("jti-3").await.unwrap().is_none());
    // Its grant revoked in the meantime.
    approved(store, "client", "revoked-grant", "revoked-code").await;
    store.revoke_grant("revoked-grant", NOW).await.unwrap();
    // What a client holds, for the consent page's step-up marks: revoked grants drop out.
    assert!(store.granted_scopes("stepper").await.unwrap().is_empty());
    approved(store, "stepper", "held-grant", "held-code").await;
    approved(store, "stepper", "dropped-grant", "dropped-code").await;
    store.revoke_grant("dropped-grant", NOW).await.unwrap();
    assert_eq!(
        store.granted_scopes("stepper").await.unwrap(),
        vec!["mcp:tools openid".to_owned()]
    );
    let spent = store
        .redeem_code(
            "revoked-code",
            "revoked-grant",
            NOW,
            &tokens("client", "jti-4", None),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::NoLongerValid);
    assert!(store.access_token("jti-4").await.unwrap().is_none());
    // A code that was never issued.
    let spent = store
        .redeem_code(
            "no-such-code",
            "grant",
            NOW,
            &tokens("client", "jti-5", None),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::NoLongerValid);
}

/// Of concurrent redemptions of one code exactly one is `Issued` and the others are
/// replays; only the winner's access token was recorded, and the replays revoked it.
async fn concurrent_redemptions_of_one_code_have_one_winner(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    approved(store, "client", "grant", "code").await;
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            let issued = tokens("client", &format!("jti-{i}"), Some(&format!("refresh-{i}")));
            store
                .redeem_code("code", "grant", NOW, &issued)
                .await
                .unwrap()
        });
    }
    let outcomes = racers.join_all().await;
    let issued = outcomes.iter().filter(|s| **s == Spent::Issued).count();
    let replayed = outcomes.iter().filter(|s| **s == Spent::Replayed).count();
    assert_eq!((issued, replayed), (1, RACERS - 1), "{outcomes:?}");
    let mut recorded = Vec::new();
    for i in 0..RACERS {
        if let Some(access) = store.access_token(&format!("jti-{i}")).await.unwrap() {
            recorded.push(access);
        }
    }
    assert_eq!(recorded.len(), 1, "one access token recorded");
    assert!(recorded[0].grant_revoked_at.is_some(), "and revoked");
}

/// A strict rotation by request `by` at `now` seconds.
fn strict(by: &str, now: i64) -> Rotation<'_> {
    Rotation {
        now_ms: now * 1000,
        request_id: by,
        successor: None,
        revoke_on_replay: true,
    }
}

/// A refresh token rotates once: its successor is recorded with the new access token (or
/// none, when the rotation issues no refresh token); using it again is a replay that
/// revokes the family; an expired one is no longer valid. Of concurrent rotations one
/// wins.
async fn refresh_tokens_rotate_once(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    approved(store, "client", "grant", "code").await;
    store
        .redeem_code("code", "grant", NOW, &tokens("client", "jti-0", Some("r0")))
        .await
        .unwrap();
    assert!(
        store
            .refresh_grant("no-such-token")
            .await
            .unwrap()
            .is_none()
    );
    let r0 = store.refresh_grant("r0").await.unwrap().unwrap();
    let expected = grant("grant", "client");
    assert_eq!(r0.grant_id, "grant");
    assert_eq!(r0.client_id, "client");
    assert_eq!(r0.subject, expected.subject);
    assert_eq!(r0.scope, expected.scope);
    assert_eq!(r0.resources, expected.resources);
    assert_eq!((r0.issued_at, r0.expires_at), (NOW, NOW + 3600));
    assert_eq!((r0.rotated_at, r0.revoked_at), (None, None));

    let spent = store
        .rotate_refresh_token(
            "r0",
            "grant",
            NOW + 5,
            &tokens("client", "jti-1", Some("r1")),
            &strict("request-1", NOW + 5),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::Issued);
    let used = store.refresh_grant("r0").await.unwrap().unwrap();
    assert_eq!(used.rotated_at, Some(NOW + 5));
    assert_eq!(used.rotated_at_ms, Some((NOW + 5) * 1000));
    assert_eq!(used.rotated_by.as_deref(), Some("request-1"), "who used it");
    let r1 = store.refresh_grant("r1").await.unwrap().unwrap();
    assert_eq!((r1.issued_at, r1.rotated_at), (NOW + 5, None));
    assert_eq!(
        store
            .access_token("jti-1")
            .await
            .unwrap()
            .unwrap()
            .grant_id
            .as_deref(),
        Some("grant")
    );
    // Without a successor.
    let spent = store
        .rotate_refresh_token(
            "r1",
            "grant",
            NOW + 6,
            &tokens("client", "jti-2", None),
            &strict("request-2", NOW + 6),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::Issued);
    assert!(store.access_token("jti-2").await.unwrap().is_some());

    // r0 again: a replay, the family is revoked, nothing new recorded.
    let spent = store
        .rotate_refresh_token(
            "r0",
            "grant",
            NOW + 7,
            &tokens("client", "jti-3", Some("r3")),
            &strict("request-3", NOW + 7),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::Replayed);
    assert!(store.refresh_grant("r3").await.unwrap().is_none());
    assert!(store.access_token("jti-3").await.unwrap().is_none());
    assert_eq!(
        store.refresh_grant("r1").await.unwrap().unwrap().revoked_at,
        Some(NOW + 7)
    );
    assert_eq!(
        store
            .access_token("jti-2")
            .await
            .unwrap()
            .unwrap()
            .grant_revoked_at,
        Some(NOW + 7)
    );

    // Expired (refresh tokens here live until NOW + 3600).
    approved(store, "client", "grant-e", "code-e").await;
    store
        .redeem_code(
            "code-e",
            "grant-e",
            NOW,
            &tokens("client", "jti-e", Some("re")),
        )
        .await
        .unwrap();
    let spent = store
        .rotate_refresh_token(
            "re",
            "grant-e",
            NOW + 3600,
            &tokens("client", "jti-e2", None),
            &strict("request-e", NOW + 3600),
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::NoLongerValid);
    let re = store.refresh_grant("re").await.unwrap().unwrap();
    assert_eq!((re.rotated_at, re.revoked_at), (None, None));

    // One refresh token, many callers at once.
    approved(store, "client", "grant-c", "code-c").await;
    store
        .redeem_code(
            "code-c",
            "grant-c",
            NOW,
            &tokens("client", "jti-c", Some("rc")),
        )
        .await
        .unwrap();
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            let issued = tokens("client", &format!("jti-c{i}"), Some(&format!("rc{i}")));
            store
                .rotate_refresh_token(
                    "rc",
                    "grant-c",
                    NOW + 1,
                    &issued,
                    &strict(&format!("racer-{i}"), NOW + 1),
                )
                .await
                .unwrap()
        });
    }
    let outcomes = racers.join_all().await;
    let issued = outcomes.iter().filter(|s| **s == Spent::Issued).count();
    let replayed = outcomes.iter().filter(|s| **s == Spent::Replayed).count();
    assert_eq!((issued, replayed), (1, RACERS - 1), "{outcomes:?}");
    let mut successors = 0;
    for i in 0..RACERS {
        if let Some(successor) = store.refresh_grant(&format!("rc{i}")).await.unwrap() {
            assert!(successor.revoked_at.is_some(), "revoked by the replays");
            successors += 1;
        }
    }
    assert_eq!(successors, 1);
}

/// In grace mode a rotation keeps the sealed answer until its grace period ends, a replay
/// leaves the grant to the caller, and the answer is read only while kept and while the
/// grant stands; expired answers are swept.
async fn refresh_answers_are_kept_for_the_grace_period(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    approved(store, "client", "grant", "code").await;
    store
        .redeem_code("code", "grant", NOW, &tokens("client", "jti-0", Some("r0")))
        .await
        .unwrap();
    assert_eq!(store.refresh_successor("r0", NOW).await.unwrap(), None);
    let grace = Rotation {
        now_ms: NOW * 1000 + 250,
        request_id: "first",
        successor: Some(("sealed-answer", NOW + 11)),
        revoke_on_replay: false,
    };
    let spent = store
        .rotate_refresh_token(
            "r0",
            "grant",
            NOW,
            &tokens("client", "jti-1", Some("r1")),
            &grace,
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::Issued);
    let used = store.refresh_grant("r0").await.unwrap().unwrap();
    assert_eq!(used.rotated_at_ms, Some(NOW * 1000 + 250));
    assert_eq!(
        store
            .refresh_successor("r0", NOW + 10)
            .await
            .unwrap()
            .as_deref(),
        Some("sealed-answer")
    );
    assert_eq!(
        store.refresh_successor("r0", NOW + 11).await.unwrap(),
        None,
        "kept until"
    );
    // A second rotation of r0: a replay, and the grant is left standing for the caller.
    let again = Rotation {
        request_id: "second",
        successor: Some(("other", NOW + 12)),
        ..grace.clone()
    };
    let spent = store
        .rotate_refresh_token(
            "r0",
            "grant",
            NOW + 1,
            &tokens("client", "jti-2", Some("r2")),
            &again,
        )
        .await
        .unwrap();
    assert_eq!(spent, Spent::Replayed);
    let still = store.refresh_grant("r1").await.unwrap().unwrap();
    assert_eq!(still.revoked_at, None, "the caller decides");
    assert!(store.refresh_grant("r2").await.unwrap().is_none());
    assert_eq!(
        store
            .refresh_successor("r0", NOW + 1)
            .await
            .unwrap()
            .as_deref(),
        Some("sealed-answer"),
        "the first answer stays"
    );
    // Swept once over, in batches.
    assert_eq!(
        store.sweep_refresh_successors(NOW + 10, 10).await.unwrap(),
        0
    );
    assert_eq!(
        store.sweep_refresh_successors(NOW + 11, 10).await.unwrap(),
        1
    );
    assert_eq!(
        store.sweep_refresh_successors(NOW + 11, 10).await.unwrap(),
        0
    );
    // A revoked grant's answer is not read.
    approved(store, "client", "grant-v", "code-v").await;
    store
        .redeem_code(
            "code-v",
            "grant-v",
            NOW,
            &tokens("client", "jti-v", Some("rv")),
        )
        .await
        .unwrap();
    store
        .rotate_refresh_token(
            "rv",
            "grant-v",
            NOW,
            &tokens("client", "jti-v1", Some("rv1")),
            &Rotation {
                successor: Some(("sealed-v", NOW + 11)),
                ..grace.clone()
            },
        )
        .await
        .unwrap();
    store.revoke_grant("grant-v", NOW + 1).await.unwrap();
    assert_eq!(store.refresh_successor("rv", NOW + 2).await.unwrap(), None);
}

/// Access tokens outside a grant are recorded and read back; revoking one, or a grant,
/// keeps the first revocation time.
async fn access_tokens_and_revocations(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    store
        .insert_client(&client("machine", ClientSource::Cli, NOW))
        .await
        .unwrap();
    let claims = AccessTokenClaims::issue(
        "http://127.0.0.1:9000",
        "machine",
        "machine",
        vec![RESOURCE.to_owned()],
        None,
        NOW,
        300,
    );
    let record = NewAccessToken::of(&claims);
    assert_eq!(
        (
            record.jti.as_str(),
            record.client_id.as_str(),
            record.expires_at
        ),
        (claims.jti.as_str(), "machine", NOW + 300)
    );
    store.insert_access_token(&record, None, NOW).await.unwrap();
    let read = store.access_token(&claims.jti).await.unwrap().unwrap();
    assert_eq!(read.client_id, "machine");
    assert_eq!(read.grant_id, None);
    assert_eq!(read.expires_at, NOW + 300);
    assert_eq!((read.revoked_at, read.grant_revoked_at), (None, None));
    assert!(store.access_token("no-such-jti").await.unwrap().is_none());

    store
        .revoke_access_token(&claims.jti, NOW + 1)
        .await
        .unwrap();
    store
        .revoke_access_token(&claims.jti, NOW + 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .access_token(&claims.jti)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(NOW + 1),
        "the first revocation stands"
    );
    store.revoke_access_token("no-such-jti", NOW).await.unwrap();

    // With a grant: the grant's revocation shows on the token.
    approved(store, "client", "grant", "code").await;
    let with_grant = NewAccessToken {
        jti: "granted".to_owned(),
        client_id: "client".to_owned(),
        expires_at: NOW + 300,
    };
    store
        .insert_access_token(&with_grant, Some("grant"), NOW)
        .await
        .unwrap();
    store.revoke_grant("grant", NOW + 3).await.unwrap();
    store.revoke_grant("grant", NOW + 4).await.unwrap();
    let read = store.access_token("granted").await.unwrap().unwrap();
    assert_eq!(read.grant_id.as_deref(), Some("grant"));
    assert_eq!(
        (read.revoked_at, read.grant_revoked_at),
        (None, Some(NOW + 3))
    );
    assert_eq!(
        store.code_grant("code").await.unwrap().unwrap().revoked_at,
        Some(NOW + 3)
    );
    store.revoke_grant("no-such-grant", NOW).await.unwrap();
}

/// The first active key is stored once however many instances start at once; rotation
/// retires exactly the active key, once however many rotate at once; the published keys
/// are the active one and those retired within the grace period, newest first.
async fn signing_keys_first_key_and_rotation(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    assert!(store.all_keys().await.unwrap().is_empty());
    assert!(store.published_keys(0).await.unwrap().is_empty());

    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            let kid = format!("first-{i}");
            let stored = store
                .insert_first_active_key(&kid, &format!("pem-{i}"), NOW)
                .await
                .unwrap();
            (stored, kid)
        });
    }
    let winners: Vec<String> = racers
        .join_all()
        .await
        .into_iter()
        .filter_map(|(stored, kid)| stored.then_some(kid))
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let first = winners[0].clone();
    let keys = store.all_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, first);
    assert_eq!(keys[0].private_key_pem, first.replace("first", "pem"));
    assert!(keys[0].active);
    assert_eq!((keys[0].created_at, keys[0].retired_at), (NOW, None));
    assert!(
        !store
            .insert_first_active_key("late", "pem", NOW)
            .await
            .unwrap(),
        "a key is active already"
    );

    assert!(
        store
            .rotate_signing_key(&first, "second", "pem-second", NOW + 10)
            .await
            .unwrap()
    );
    // Stale: `first` is no longer the active key.
    assert!(
        !store
            .rotate_signing_key(&first, "third", "pem-third", NOW + 20)
            .await
            .unwrap()
    );
    let keys = store.all_keys().await.unwrap();
    let summary: Vec<(&str, bool, i64, Option<i64>)> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.active, k.created_at, k.retired_at))
        .collect();
    assert_eq!(
        summary,
        [
            ("second", true, NOW + 10, None),
            (first.as_str(), false, NOW, Some(NOW + 10)),
        ]
    );
    let published = |since: i64| async move {
        store
            .published_keys(since)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        published(NOW + 10).await,
        ["second".to_owned(), first.clone()]
    );
    assert_eq!(published(NOW + 11).await, ["second"]);

    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = store.clone();
        racers.spawn(async move {
            store
                .rotate_signing_key("second", &format!("next-{i}"), "pem", NOW + 30)
                .await
                .unwrap()
        });
    }
    let rotated = racers.join_all().await.into_iter().filter(|r| *r).count();
    assert_eq!(rotated, 1, "one rotation retires the key");
    let keys = store.all_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys.iter().filter(|k| k.active).count(), 1);
    assert!(keys[0].active && keys[0].kid.starts_with("next-"));
}

/// Settings are recorded per name and written only when the value changes.
async fn server_settings_are_written_only_when_changed(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    let settings = [
        ServerSetting::Issuer,
        ServerSetting::KeyGracePeriod,
        ServerSetting::KeyReloadInterval,
    ];
    for setting in settings {
        assert_eq!(store.server_setting(setting).await.unwrap(), None);
    }
    let names: Vec<&str> = settings.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["issuer", "key_grace_period", "key_reload_interval_ms"]
    );

    let issuer = "http://127.0.0.1:9000";
    assert!(
        store
            .record_server_setting(ServerSetting::Issuer, issuer, NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_server_setting(ServerSetting::Issuer, issuer, NOW + 1)
            .await
            .unwrap(),
        "unchanged: not written"
    );
    assert_eq!(
        store
            .server_setting(ServerSetting::Issuer)
            .await
            .unwrap()
            .as_deref(),
        Some(issuer)
    );
    assert!(
        store
            .record_server_setting(ServerSetting::Issuer, "http://127.0.0.1:9001", NOW + 2)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .server_setting(ServerSetting::Issuer)
            .await
            .unwrap()
            .as_deref(),
        Some("http://127.0.0.1:9001")
    );
    assert!(
        store
            .record_server_setting(ServerSetting::KeyGracePeriod, "86400", NOW)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .server_setting(ServerSetting::KeyGracePeriod)
            .await
            .unwrap()
            .as_deref(),
        Some("86400")
    );
    assert_eq!(
        store
            .server_setting(ServerSetting::KeyReloadInterval)
            .await
            .unwrap(),
        None,
        "settings are independent"
    );
}

/// An event of `kind` at `time_ms` in `flow`.
fn event(kind: EventType, time_ms: i64, flow: Option<&str>, client: &str) -> Event {
    let mut event = Event::new(kind, time_ms);
    event.flow = flow.map(str::to_owned);
    event.client_id = Some(client.to_owned());
    event.detail("n", time_ms);
    event
}

/// A batch larger than the event writer ever sends (more than `EVENTS_PER_STATEMENT`, so
/// SQLite takes it in several statements): every event stored once, in the order given. A
/// batch that fails on its last event stores none of its events, whether it fits one
/// statement or not.
async fn a_large_batch_is_stored_whole_and_in_order(backend: Backend) {
    let Db { store, _db } = open(backend).await;
    let batch: Vec<Event> = (0..300)
        .map(|i| event(EventType::TokenRequest, 10_000 + i, Some("f"), "c"))
        .collect();
    store.insert_events(&batch).await.unwrap();
    let stored = store
        .events(&EventFilter {
            limit: 1_000,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let ids = |events: &[Event]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&stored), ids(&batch));
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));

    // The last event repeats an id (unique in the table): the whole batch is refused.
    for (size, flow) in [(70, "g"), (200, "h")] {
        let mut failing: Vec<Event> = (0..size)
            .map(|i| event(EventType::TokenRequest, 20_000 + i, Some(flow), "c"))
            .collect();
        failing[size as usize - 1].id.clone_from(&batch[0].id);
        assert!(store.insert_events(&failing).await.is_err());
        let after = store
            .events(&EventFilter {
                flow: Some(flow.into()),
                limit: 1_000,
                ..EventFilter::default()
            })
            .await
            .unwrap();
        assert!(
            after.is_empty(),
            "{} of a failed batch of {size} stored",
            after.len()
        );
    }
}

async fn events_are_stored_filtered_and_swept(backend: Backend) {
    let Db { store, _db } = open(backend).await;
    let mut rejected = event(EventType::TokenRequest, 3_000, Some("f1"), "c1");
    rejected.reject(
        &tollgate::oauth::error::OAuthError::invalid_grant("no")
            .rule(&tollgate::oauth::rules::TK_7)
            .compared("a", "b")
            .hint(Some("h".to_owned())),
    );
    // Text that JSON or SQL would escape, and details of every JSON type, come back as they
    // were; a NUL, which PostgreSQL's text cannot hold, comes back as U+FFFD on both backends
    // (a backslash before "u0000" is not one).
    rejected.received =
        Some("quote \" backslash \\ newline \n tab \t nul \0 é 🔑 \\u0000".to_owned());
    rejected.detail("nested", json!({"list": [1, "two", null, true], "x": 1.5}));
    rejected.detail("big", i64::MAX);
    rejected.detail("negative", -7);
    let written = vec![
        event(EventType::Registration, 1_000, None, "c1"),
        event(EventType::AuthorizationRequest, 2_000, Some("f1"), "c1"),
        rejected.clone(),
        event(EventType::AuthorizationRequest, 4_000, Some("f2"), "c2"),
        event(EventType::TokensIssued, 5_000, Some("f2"), "c2"),
    ];
    store.insert_events(&written).await.unwrap();
    store.insert_events(&[]).await.unwrap();

    let all = store
        .events(&EventFilter {
            limit: 100,
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let times: Vec<i64> = all.iter().map(|e| e.time_ms).collect();
    assert_eq!(times, [1_000, 2_000, 3_000, 4_000, 5_000], "oldest first");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq), "seq increases");
    let stored = &all[2];
    let mut expected = rejected.clone();
    expected.received =
        Some("quote \" backslash \\ newline \n tab \t nul \u{fffd} é 🔑 \\u0000".to_owned());
    assert_eq!(
        Event {
            seq: 0,
            ..stored.clone()
        },
        expected,
        "every field survives the round trip"
    );
    let by_id = store.event(&rejected.id).await.unwrap().unwrap();
    assert_eq!(by_id, *stored);
    assert!(store.event("no-such-event").await.unwrap().is_none());
    assert!(store.event("nul\0id").await.unwrap().is_none());

    let filtered = |filter: EventFilter| {
        let store = store.clone();
        async move {
            store
                .events(&filter)
                .await
                .unwrap()
                .iter()
                .map(|e| e.time_ms)
                .collect::<Vec<_>>()
        }
    };
    let some = |limit| EventFilter {
        limit,
        ..EventFilter::default()
    };
    assert_eq!(
        filtered(some(2)).await,
        [4_000, 5_000],
        "the newest, oldest first"
    );
    assert_eq!(
        filtered(EventFilter {
            flow: Some("f1".into()),
            ..some(10)
        })
        .await,
        [2_000, 3_000]
    );
    assert_eq!(
        filtered(EventFilter {
            client_id: Some("c2".into()),
            ..some(10)
        })
        .await,
        [4_000, 5_000]
    );
    assert_eq!(
        filtered(EventFilter {
            outcome: Some(Outcome::Rejected),
            ..some(10)
        })
        .await,
        [3_000]
    );
    assert_eq!(
        filtered(EventFilter {
            since_ms: Some(4_000),
            ..some(10)
        })
        .await,
        [4_000, 5_000]
    );
    assert_eq!(
        filtered(EventFilter {
            after_seq: Some(all[1].seq),
            ..some(2)
        })
        .await,
        [3_000, 4_000],
        "following: the oldest after the cursor"
    );
    assert_eq!(
        filtered(EventFilter {
            flow: Some("f2".into()),
            client_id: Some("c2".into()),
            since_ms: Some(4_500),
            after_seq: Some(0),
            outcome: Some(Outcome::Ok),
            limit: 10,
        })
        .await,
        [5_000],
        "every filter at once"
    );

    let flows = store.recent_flows(100, 10).await.unwrap();
    assert_eq!(
        flows
            .iter()
            .map(|f| (
                f.flow_id.as_str(),
                f.events,
                f.rejected,
                f.started_ms,
                f.last_ms
            ))
            .collect::<Vec<_>>(),
        [("f2", 2, 0, 4_000, 5_000), ("f1", 2, 1, 2_000, 3_000)],
        "newest flow first; events without a flow are no flow"
    );
    assert_eq!(
        store.recent_flows(2, 10).await.unwrap().len(),
        1,
        "only the window"
    );

    assert_eq!(
        store.sweep_events(3_500, 2).await.unwrap(),
        2,
        "a bounded batch"
    );
    assert_eq!(store.sweep_events(3_500, 2).await.unwrap(), 1);
    assert_eq!(store.sweep_events(3_500, 2).await.unwrap(), 0);
    assert_eq!(filtered(some(10)).await, [4_000, 5_000]);
}

async fn a_challenge_names_the_flow_of_its_code(backend: Backend) {
    let Db { store, _db } = open(backend).await;
    approved(&store, "c1", "g1", "code-1").await;
    assert_eq!(
        store.flow_of_challenge("challenge").await.unwrap(),
        Some((Some("flow-g1".to_owned()), "c1".to_owned()))
    );
    assert_eq!(store.flow_of_challenge("other").await.unwrap(), None);
}

async fn a_jti_is_used_once_per_issuer(backend: Backend) {
    let Db { store, _db } = open(backend).await;
    assert!(
        store
            .first_use_of_jti("https://idp", "j1", NOW)
            .await
            .unwrap()
    );
    assert!(
        !store
            .first_use_of_jti("https://idp", "j1", NOW)
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        store
            .first_use_of_jti("https://other", "j1", NOW)
            .await
            .unwrap(),
        "per issuer"
    );
    assert!(
        !store
            .first_use_of_jti("https://idp", "nul\0", NOW)
            .await
            .unwrap()
    );
    let store = Arc::new(store);
    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let store = Arc::clone(&store);
        racers.spawn(async move {
            store
                .first_use_of_jti("https://idp", "raced", NOW + 60)
                .await
        });
    }
    let winners = racers
        .join_all()
        .await
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();
    assert_eq!(winners, 1, "one first use among {RACERS} at once");
    assert_eq!(
        store.sweep_used_jtis(NOW + 1, 1).await.unwrap(),
        1,
        "bounded"
    );
    assert_eq!(store.sweep_used_jtis(NOW + 1, 10).await.unwrap(), 1);
    assert_eq!(
        store.sweep_used_jtis(NOW + 1, 10).await.unwrap(),
        0,
        "'raced' lives on"
    );
    assert!(
        !store
            .first_use_of_jti("https://idp", "raced", NOW)
            .await
            .unwrap()
    );
}

/// The sweeps (issue 20): consent requests once expired, access token records and whole
/// grant families once expired before the cutoff, a page of grants at a time in
/// `(created_at, id)` order (these grants share `created_at`, so the id orders them), a
/// family with a live token kept whole; and the WAL checkpoint (SQLite only).
async fn sweeps_delete_expired_rows_in_bounded_pages(backend: Backend) {
    let db = open(backend).await;
    let store = &db.store;
    approved(store, "client", "g1", "c1").await;
    approved(store, "client", "g2", "c2").await;
    approved(store, "client", "g3", "c3").await;
    let issued = tokens("client", "jti-2", Some("r2"));
    assert_eq!(
        store.redeem_code("c2", "g2", NOW, &issued).await.unwrap(),
        Spent::Issued
    );
    let machine = NewAccessToken {
        jti: "jti-m".to_owned(),
        client_id: "client".to_owned(),
        expires_at: NOW + 300,
    };
    store
        .insert_access_token(&machine, None, NOW)
        .await
        .unwrap();
    store
        .insert_authorization_request(&request("pending", "client"))
        .await
        .unwrap();

    assert_eq!(
        store
            .sweep_authorization_requests(NOW + 600, 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .sweep_authorization_requests(NOW + 601, 10)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .authorization_request("pending")
            .await
            .unwrap()
            .is_none()
    );

    // Codes expire at NOW+60; g2's refresh token lives until NOW+3600.
    let cutoff = NOW + 61;
    let mut cursor = GrantCursor::start();
    let mut pages = Vec::new();
    loop {
        let (deleted, next) = store.sweep_grants_page(&cursor, cutoff, 1).await.unwrap();
        pages.push(deleted);
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(pages, [1, 0, 1, 0], "g1, g2 (kept), g3, then the end");
    assert!(store.code_grant("c1").await.unwrap().is_none());
    assert!(store.code_grant("c2").await.unwrap().is_some());
    assert!(store.code_grant("c3").await.unwrap().is_none());

    assert_eq!(store.sweep_access_tokens(NOW + 300, 10).await.unwrap(), 0);
    assert_eq!(store.sweep_access_tokens(NOW + 301, 1).await.unwrap(), 1);
    assert_eq!(store.sweep_access_tokens(NOW + 301, 1).await.unwrap(), 1);
    assert_eq!(store.sweep_access_tokens(NOW + 301, 1).await.unwrap(), 0);
    assert!(store.access_token("jti-m").await.unwrap().is_none());

    // The refresh token still lives: g2 stays; once it expired, the family goes whole.
    let (deleted, _) = store
        .sweep_grants_page(&GrantCursor::start(), NOW + 3600, 10)
        .await
        .unwrap();
    assert_eq!(deleted, 0);
    let (deleted, next) = store
        .sweep_grants_page(&GrantCursor::start(), NOW + 3601, 10)
        .await
        .unwrap();
    assert_eq!((deleted, next), (1, None));
    assert!(store.code_grant("c2").await.unwrap().is_none());
    assert!(store.refresh_grant("r2").await.unwrap().is_none());

    match backend {
        Backend::Sqlite => {
            let before = store.wal_size().unwrap();
            assert!(before > 0, "the writes above went to the WAL");
            assert_eq!(store.checkpoint_wal_above(before).await.unwrap(), None);
            assert_eq!(store.checkpoint_wal_above(0).await.unwrap(), Some(before));
            assert_eq!(store.wal_size(), Some(0), "truncated");
        }
        Backend::Postgres => {
            assert_eq!(store.wal_size(), None);
            assert_eq!(store.checkpoint_wal_above(0).await.unwrap(), None);
        }
    }
}

/// The WAL checkpointer (issue 18) copies what the writer wrote into the database file from
/// beside it, before the writer's own checkpoint would (at 1,000 frames of log); on
/// PostgreSQL it has nothing to do and returns.
async fn the_wal_checkpointer_copies_the_log_into_the_database_file(backend: Backend) {
    let Db { store, _db } = open(backend).await;
    // About 250 frames of log: 1 MB of details, which the database file holds only once they
    // are checkpointed.
    let events: Vec<Event> = (0..10)
        .map(|n| {
            let mut event = event(EventType::Registration, n, None, "c1");
            event.detail("padding", "x".repeat(100_000));
            event
        })
        .collect();
    store.insert_events(&events).await.unwrap();
    let checkpointer = tokio::spawn(tollgate::services::wal_checkpointer::run(store.clone()));
    match backend {
        Backend::Sqlite => {
            let file = _db.url.strip_prefix("sqlite://").unwrap().to_owned();
            let size = || std::fs::metadata(&file).unwrap().len();
            assert!(size() < 1_000_000, "not yet checkpointed: {} bytes", size());
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while size() < 1_000_000 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the database file stayed at {} bytes",
                    size()
                );
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            checkpointer.abort();
            // Its last checkpoint may still be running on the connection it started on.
            let log = loop {
                let log = store.checkpoint_wal_passively().await.unwrap().unwrap();
                if !log.busy {
                    break log;
                }
                assert!(std::time::Instant::now() < deadline, "{log:?}");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            };
            assert!(log.frames > 250, "{log:?}");
            assert_eq!(log.checkpointed, log.frames, "{log:?}");
        }
        Backend::Postgres => {
            tokio::time::timeout(std::time::Duration::from_secs(5), checkpointer)
                .await
                .expect("the checkpointer returns at once on PostgreSQL")
                .unwrap();
            assert_eq!(store.checkpoint_wal_passively().await.unwrap(), None);
        }
    }
}

on_both_backends!(
    the_wal_checkpointer_copies_the_log_into_the_database_file,
    sweeps_delete_expired_rows_in_bounded_pages,
    refresh_answers_are_kept_for_the_grace_period,
    a_jti_is_used_once_per_issuer,
    events_are_stored_filtered_and_swept,
    a_large_batch_is_stored_whole_and_in_order,
    a_challenge_names_the_flow_of_its_code,
    connect_migrate_ping_and_close,
    clients_are_stored_read_and_listed,
    upsert_owned_client_writes_only_its_own_source,
    replace_declared_secret_needs_the_current_digest,
    rotate_registration_token_has_a_single_winner,
    delete_client_takes_everything_issued_to_it,
    authorization_requests_are_taken_once,
    codes_are_redeemed_once,
    concurrent_redemptions_of_one_code_have_one_winner,
    refresh_tokens_rotate_once,
    access_tokens_and_revocations,
    signing_keys_first_key_and_rotation,
    server_settings_are_written_only_when_changed,
);
