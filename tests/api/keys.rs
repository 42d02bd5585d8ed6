//! Signing-key rotation: tokens signed before a rotation keep verifying for the grace
//! period; retired keys leave the JWKS after it.

use crate::helpers::{Backend, RESOURCE, TestApp, eventually, jwt_header, tollgate};
use crate::on_both_backends;
use serde_json::Value;
use std::time::Duration;
use tollgate::clock::Clock;
use tollgate::testing::{VerifyError, verify_access_token_at};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` (issued for `RESOURCE`) against the JWKS `jwks`, at the app's time.
fn verify(app: &TestApp, jwks: &Value, token: &str) -> Result<Value, VerifyError> {
    verify_access_token_at(jwks, &app.issuer, token, RESOURCE, app.clock.now())
}

async fn spawn(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .config(|c| {
            c.keys.reload_interval = Duration::from_millis(20);
            c.keys.grace_period = Duration::from_secs(600);
        })
        .with_resource_server()
        .spawn()
        .await
}

/// `tollgate keys rotate`: the running server picks up the new key, a token minted before
/// the rotation still verifies against the JWKS, new tokens use the new key, and after the
/// grace period the retired key leaves the JWKS.
async fn rotation_keeps_old_tokens_valid_for_the_grace_period(backend: Backend) {
    let app = spawn(backend).await;
    let resource_server = app.resource_server();
    let client = app.public_client().await;
    let before = app.tokens(&client.client_id).await;
    let old_token = before["access_token"].as_str().unwrap().to_owned();
    let old_kid = jwt_header(&old_token)["kid"].as_str().unwrap().to_owned();

    let output = tollgate(&["keys", "rotate", "--database-url", app.database_url()]);
    assert!(output.contains("new active signing key"), "{output}");
    eventually(
        "the server publishes two keys",
        Duration::from_secs(10),
        || async { kids(&app.jwks().await).len() == 2 },
    )
    .await;
    let jwks = app.jwks().await;
    assert!(kids(&jwks).contains(&old_kid));
    assert!(
        verify(&app, &jwks, &old_token).is_ok(),
        "a token from before the rotation verifies"
    );
    assert_eq!(
        app.introspect(&resource_server, &old_token).await["active"],
        true
    );

    let after = app.tokens(&client.client_id).await;
    let new_token = after["access_token"].as_str().unwrap();
    let new_kid = jwt_header(new_token)["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid, "new tokens are signed with the new key");
    verify(&app, &jwks, new_token).unwrap();

    let listing = tollgate(&["keys", "list", "--database-url", app.database_url()]);
    assert!(
        listing.contains(&new_kid) && listing.contains("active"),
        "{listing}"
    );
    assert!(
        listing.contains(&old_kid) && listing.contains("published"),
        "{listing}"
    );

    // Past the grace period the old key is gone, and so is trust in its tokens. (The
    // command stamped the retirement with the real clock, a moment after the server's
    // manual clock started, hence the margin.)
    app.clock.advance(700);
    eventually(
        "the retired key leaves the JWKS",
        Duration::from_secs(10),
        || async { kids(&app.jwks().await) == [new_kid.clone()] },
    )
    .await;
    // Refused for its key, before its (also passed) expiry is even looked at.
    assert_eq!(
        verify(&app, &app.jwks().await, &old_token),
        Err(VerifyError::UnknownKey(Some(old_kid)))
    );
}

/// The number of seconds in the first "leaves the JWKS in N..." of a `keys list`.
fn leaves_in(listing: &str) -> u64 {
    let rest = listing
        .split("leaves the JWKS in ")
        .nth(1)
        .unwrap_or_else(|| panic!("no published key in:\n{listing}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(
        rest[digits.len()..].starts_with('s'),
        "seconds expected:\n{listing}"
    );
    digits.parse().unwrap()
}

/// `keys rotate` and `keys list`, run with nothing but the database URL, report the grace
/// period and reload interval of the server on that database (which it recorded at its
/// start), not the command's own defaults (1d and 10s).
async fn the_key_commands_report_the_servers_figures(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.access_token_ttl = Duration::from_secs(60);
            c.keys.grace_period = Duration::from_secs(90);
            c.keys.reload_interval = Duration::from_secs(3);
        })
        .spawn()
        .await;
    let output = tollgate(&["keys", "rotate", "--database-url", app.database_url()]);
    assert!(
        output.contains("stays in the JWKS for 90s after now"),
        "{output}"
    );
    assert!(
        output.contains("running servers switch within 3s"),
        "{output}"
    );
    assert!(!output.contains("note:"), "{output}");

    let listing = tollgate(&["keys", "list", "--database-url", app.database_url()]);
    let left = leaves_in(&listing);
    // Retired a moment ago by the real clock: at most 90 s left, and not much less.
    assert!((80..=90).contains(&left), "{left} s left:\n{listing}");
}

/// Without a server's record, the figures are the command's configuration, and it says so.
async fn the_key_commands_say_when_no_server_recorded_its_figures(backend: Backend) {
    let db = crate::helpers::TestDb::new(backend).await;
    let output = tollgate(&["keys", "rotate", "--database-url", &db.url]);
    assert!(output.contains("for 1d after now"), "{output}");
    assert!(output.contains("switch within 10s"), "{output}");
    assert!(
        output.contains("no server has recorded its key settings"),
        "{output}"
    );
}

/// `keys.rotate_every`: the server rotates by itself when the active key is old enough.
async fn automatic_rotation(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.keys.reload_interval = Duration::from_millis(20);
            c.keys.rotate_every = Some(Duration::from_secs(3600));
        })
        .spawn()
        .await;
    let first = kids(&app.jwks().await);
    assert_eq!(first.len(), 1);
    app.clock.advance(3601);
    eventually("a second key appears", Duration::from_secs(10), || async {
        kids(&app.jwks().await).len() == 2
    })
    .await;
    let client = app.public_client().await;
    let token = app.tokens(&client.client_id).await;
    let kid = jwt_header(token["access_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(kid, first[0]);
}

/// The effective grace period is the larger of `keys.grace_period` and the token lifetime
/// (plus the reload interval): a configured 60 s does not drop a key whose tokens live
/// 300 s. Automatic rotations, stamped with the server's clock, mark the moments a reload
/// happened, so the JWKS can be read mid-grace.
async fn a_short_grace_period_still_covers_the_token_lifetime(backend: Backend) {
    let app = TestApp::builder(backend)
        .config(|c| {
            c.access_token_ttl = Duration::from_secs(300);
            c.keys.grace_period = Duration::from_secs(60);
            c.keys.reload_interval = Duration::from_millis(20);
            c.keys.rotate_every = Some(Duration::from_secs(100));
        })
        .spawn()
        .await;
    // Waits for the rotation the clock now calls for; returns the JWKS read by the reload
    // that follows it in the same tick (at the advanced time).
    let rotate = |seen: Vec<String>| {
        let app = &app;
        async move {
            app.clock.advance(101);
            eventually("a rotation", Duration::from_secs(10), || {
                let seen = seen.clone();
                async move { kids(&app.jwks().await).iter().any(|k| !seen.contains(k)) }
            })
            .await;
            kids(&app.jwks().await)
        }
    };
    let key0 = kids(&app.jwks().await);
    let after_first = rotate(key0.clone()).await; // key0 retired at t+101
    let after_second = rotate(after_first.clone()).await; // key1 retired at t+202
    assert!(
        after_second.contains(&key0[0]),
        "101 s after its retirement, within the 300 s token lifetime, key0 is published: \
         {after_second:?}"
    );
    assert_eq!(after_second.len(), 3);
    // Much later, both retired keys have gone.
    app.clock.advance(400);
    eventually(
        "the retired keys leave",
        Duration::from_secs(10),
        || async {
            let now = kids(&app.jwks().await);
            now.len() == 2 && !now.iter().any(|k| after_first.contains(k))
        },
    )
    .await;
}

on_both_backends!(
    a_short_grace_period_still_covers_the_token_lifetime,
    the_key_commands_report_the_servers_figures,
    the_key_commands_say_when_no_server_recorded_its_figures,
    rotation_keeps_old_tokens_valid_for_the_grace_period,
    automatic_rotation,
);
