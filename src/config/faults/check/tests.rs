//! Which faults can fire, and what the ones that cannot are told.

use super::super::*;

fn spec(json: serde_json::Value) -> FaultSpec {
    serde_json::from_value(json).unwrap()
}

fn fault(json: serde_json::Value) -> Fault {
    spec(json).check("f").unwrap()
}

/// The problems of a fault, as `key: message`.
fn problems(json: serde_json::Value) -> Vec<String> {
    spec(json)
        .check("f")
        .unwrap_err()
        .into_iter()
        .map(|(key, message)| format!("{}: {message}", key.unwrap_or("*")))
        .collect()
}

#[test]
fn statuses_get_their_rfc_error_and_a_429_its_retry_after() {
    let respond = |json| fault(json).effect;
    assert_eq!(
        respond(serde_json::json!({"endpoint": "token", "status": 503})),
        Effect::Respond {
            status: 503,
            error: ErrorCode::TemporarilyUnavailable,
            description: None,
            retry_after: None
        }
    );
    assert_eq!(
        respond(serde_json::json!({"endpoint": "token", "status": 429})),
        Effect::Respond {
            status: 429,
            error: ErrorCode::TemporarilyUnavailable,
            description: None,
            retry_after: Some(1)
        }
    );
    assert_eq!(
        respond(
            serde_json::json!({"endpoint": "token", "error": "invalid_grant",
            "grant_type": "refresh_token"})
        ),
        Effect::Respond {
            status: 400,
            error: ErrorCode::InvalidGrant,
            description: None,
            retry_after: None
        }
    );
    assert_eq!(
        respond(serde_json::json!({"endpoint": "register", "status": 401})),
        Effect::Respond {
            status: 401,
            error: ErrorCode::InvalidClient,
            description: None,
            retry_after: None
        }
    );
    // At authorize, an error alone is the redirect back to the client.
    assert_eq!(
        respond(serde_json::json!({"endpoint": "authorize", "error": "temporarily_unavailable"})),
        Effect::RedirectError {
            error: ErrorCode::TemporarilyUnavailable,
            description: None
        }
    );
    assert_eq!(
        respond(serde_json::json!({"endpoint": "token", "body": "html"})),
        Effect::Html {
            status: 502,
            retry_after: None
        }
    );
    assert_eq!(
        respond(serde_json::json!({"endpoint": "token", "delay": "1500ms"})),
        Effect::Pass
    );
}

#[test]
fn schedules() {
    let schedule = |json| fault(json).schedule;
    let picked = |s: &Schedule| (1..=10).filter(|p| s.picks(*p)).collect::<Vec<u64>>();
    let always = schedule(serde_json::json!({"endpoint": "token", "drop": true}));
    assert_eq!(picked(&always), (1..=10).collect::<Vec<_>>());
    assert_eq!(always.times, None);
    let third = schedule(serde_json::json!({"endpoint": "token", "drop": true, "nth": 3}));
    assert_eq!(
        (picked(&third), third.times),
        (vec![3, 4, 5, 6, 7, 8, 9, 10], Some(1))
    );
    let every = schedule(serde_json::json!({"endpoint": "token", "drop": true, "every": 3}));
    assert_eq!((picked(&every), every.times), (vec![3, 6, 9], None));
    let both = schedule(
        serde_json::json!({"endpoint": "token", "drop": true, "nth": 2,
        "every": 4, "times": 2}),
    );
    assert_eq!((picked(&both), both.times), (vec![2, 6, 10], Some(2)));
}

#[test]
fn a_fault_that_cannot_fire_is_refused_with_the_key_to_fix() {
    assert_eq!(
        problems(serde_json::json!({"endpoint": "tokens", "status": 503})),
        [
            "endpoint: 'tokens' is not an endpoint faults apply to; the endpoints are: metadata, \
          jwks, register, authorize, token, revoke, introspect, cimd-fetch"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"status": 503})),
        [
            "endpoint: is missing; the endpoints are: metadata, jwks, register, authorize, \
          token, revoke, introspect, cimd-fetch"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "jwks", "lie": "wrong_audience"})),
        [
            "lie: 'wrong_audience' is told by the token endpoint, not by jwks, so this fault \
          would never fire"
        ]
    );
    assert_eq!(
        problems(
            serde_json::json!({"endpoint": "metadata", "grant_type": "refresh_token",
            "status": 500})
        ),
        [
            "grant_type: only token requests have a grant_type; this fault is for the metadata \
          endpoint, so it would never fire"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "register", "client_id": "x", "drop": true})),
        [
            "client_id: register requests name no client (a client learns its client_id by \
          registering), so this fault would never fire"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token", "lie": "refresh_not_rotated"})),
        [
            "grant_type: lie 'refresh_not_rotated' is told on refreshes only: set grant_type = \
          \"refresh_token\""
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token"})),
        ["*: does nothing: give status or error, delay, drop, body or lie"]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token", "status": 503, "drop": true})),
        [
            "drop: a fault does one thing: give one of status/error, drop, body and lie, not \
          status/error and drop"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "cimd-fetch", "error": "server_error"})),
        [
            "error: a metadata document fetch has no OAuth error: give status alone, what the \
          document server answers"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "authorize", "body": "truncated"})),
        [
            "body: authorize answers with redirects and HTML pages: a truncated body applies to \
          the JSON endpoints and to cimd-fetch"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token", "status": 200})),
        ["status: 200 is not an error status; use 400 to 599"]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token", "error": "try_again"})),
        [
            "error: 'try_again' is not an OAuth error code; use one of: invalid_request, \
          invalid_client, invalid_grant, unauthorized_client, unsupported_grant_type, \
          invalid_scope, invalid_target, access_denied, unsupported_response_type, \
          server_error, temporarily_unavailable, invalid_redirect_uri, \
          invalid_client_metadata, invalid_token, unsupported_token_type, \
          interaction_required"
        ]
    );
    assert_eq!(
        problems(
            serde_json::json!({"endpoint": "token", "drop": true, "retry_after": 5,
            "nth": 0, "probability": 1.5, "seed": 1, "times": 0, "delay": "11m",
            "name": "no/slash"})
        ),
        [
            "name: 'no/slash' is not a fault name: use 1 to 64 letters, digits, spaces and . \
             _ : - (no space at either end)",
            "nth: counts from 1, the first matching request",
            "times: 0 would never fire; remove the fault instead",
            "probability: must be more than 0 and at most 1",
            "delay: must be at most 10m",
            "retry_after: goes with status, error or body = \"html\"",
        ]
    );
    assert_eq!(
        problems(
            serde_json::json!({"endpoint": "token", "lie": "wrong_audience",
            "delay": "1s", "expires_in": 60})
        ),
        [
            "delay: a lie is decided where its response is made and cannot wait first; \
             declare the delay as a fault of its own",
            "expires_in: goes with lie = \"expires_in_mismatch\" only",
        ]
    );
    assert_eq!(
        problems(
            serde_json::json!({"endpoint": "authorize", "error": "access_denied",
            "delay": "1s"})
        ),
        [
            "delay: the error of a redirect back to the client is decided when the redirect is \
          made and cannot wait first; declare the delay as a fault of its own"
        ]
    );
    assert_eq!(
        problems(serde_json::json!({"endpoint": "token", "status": 503,
            "retry_after": "1500ms"})),
        ["retry_after: must be whole seconds (Retry-After counts seconds, RFC 9110 §10.2.3)"]
    );
}

#[test]
fn names_default_and_actions_read_well() {
    let named = fault(serde_json::json!({"endpoint": "token", "status": 429,
        "delay": "2s"}));
    assert_eq!(named.name, "f");
    assert_eq!(named.spec.name.as_deref(), Some("f"));
    assert_eq!(
        named.action(),
        "delay 2s then status 429 temporarily_unavailable with Retry-After: 1"
    );
    let lie = fault(serde_json::json!({"name": "aud lie", "endpoint": "token",
        "lie": "wrong_audience"}));
    assert_eq!(
        (lie.name.as_str(), lie.action()),
        ("aud lie", "lie wrong_audience".to_owned())
    );
    assert!(valid_name("token-503 #1".trim_end_matches(" #1")));
    assert!(!valid_name(" padded"));
    assert!(!valid_name(""));
}
