//! How often faults fire, and which one acts when several match.

use super::*;

fn table(faults: serde_json::Value) -> FaultTable {
    let specs: Vec<FaultSpec> = serde_json::from_value(faults).unwrap();
    FaultTable::new(
        specs
            .iter()
            .enumerate()
            .map(|(i, spec)| spec.check(&format!("f{i}")).unwrap())
            .collect(),
    )
}

/// Which of `n` token requests (1-based) a fault fired on, and its name.
fn fired(table: &FaultTable, n: u64, facts: Facts<'_>) -> Vec<(u64, String)> {
    (1..=n)
        .filter_map(|i| {
            table
                .fire(FaultEndpoint::Token, facts, Effect::on_arrival)
                .map(|f| (i, f.fault.name.clone()))
        })
        .collect()
}

fn at(requests: &[u64], name: &str) -> Vec<(u64, String)> {
    requests.iter().map(|i| (*i, name.to_owned())).collect()
}

#[test]
fn schedules_fire_exactly_as_declared() {
    let t = table(serde_json::json!([{"endpoint": "token", "status": 503, "nth": 3}]));
    assert_eq!(fired(&t, 10, Facts::default()), at(&[3], "f0"));
    let t = table(
        serde_json::json!([{"endpoint": "token", "status": 503, "every": 2,
        "times": 3}]),
    );
    assert_eq!(fired(&t, 10, Facts::default()), at(&[2, 4, 6], "f0"));
    let t = table(serde_json::json!([{"endpoint": "token", "status": 503, "times": 2}]));
    assert_eq!(fired(&t, 5, Facts::default()), at(&[1, 2], "f0"));
    let status = &t.list()[0];
    assert_eq!((status.seen, status.fired), (5, 2));
}

#[test]
fn every_fault_counts_every_matching_request_and_the_first_to_fire_acts() {
    let t = table(serde_json::json!([
        {"endpoint": "token", "status": 503, "times": 1},
        {"endpoint": "token", "drop": true, "nth": 2},
        {"endpoint": "token", "status": 500, "every": 2, "times": 2},
    ]));
    // Request 2 is f1's and f2's: f1 acts, and f2 fires on 4 and 6 instead.
    let mut expected = at(&[1], "f0");
    expected.extend(at(&[2], "f1"));
    expected.extend(at(&[4, 6], "f2"));
    assert_eq!(fired(&t, 8, Facts::default()), expected);
    let counts: Vec<(u64, u64)> = t.list().iter().map(|s| (s.seen, s.fired)).collect();
    assert_eq!(counts, [(8, 1), (8, 1), (8, 2)]);
}

#[test]
fn filters_and_stages() {
    let t = table(serde_json::json!([
        {"endpoint": "token", "status": 400, "error": "invalid_grant",
         "grant_type": "refresh_token", "client_id": "a"},
        {"endpoint": "token", "lie": "wrong_audience"},
    ]));
    assert_eq!(
        t.needs(FaultEndpoint::Token),
        Needs {
            any: true,
            grant_type: true,
            client_id: true
        }
    );
    assert_eq!(t.needs(FaultEndpoint::Jwks), Needs::default());
    let refresh_of = |client| Facts {
        grant_type: Some("refresh_token"),
        client_id: Some(client),
    };
    assert!(fired(&t, 2, refresh_of("b")).is_empty());
    assert!(
        fired(
            &t,
            1,
            Facts {
                grant_type: Some("authorization_code"),
                client_id: Some("a")
            }
        )
        .is_empty()
    );
    assert_eq!(fired(&t, 2, refresh_of("a")), at(&[1, 2], "f0"));
    // Lies are not tried on arrival; they are tried where tokens are made.
    let lie = t.fire(FaultEndpoint::Token, refresh_of("b"), |e| {
        matches!(e, Effect::Lie(crate::config::faults::Lie::WrongAudience))
    });
    assert_eq!(lie.map(|f| f.fault.name.clone()), Some("f1".to_owned()));
}

#[test]
fn probabilities_repeat_with_their_seed() {
    let run = |seed: u64| {
        let t = table(serde_json::json!([{"endpoint": "token", "drop": true,
            "probability": 0.25, "seed": seed}]));
        fired(&t, 400, Facts::default())
            .into_iter()
            .map(|(i, _)| i)
            .collect::<Vec<u64>>()
    };
    assert_eq!(run(7), run(7), "the same seed, the same requests");
    assert_ne!(run(7), run(8));
    let rate = run(7).len();
    assert!((60..140).contains(&rate), "about a quarter of 400: {rate}");
}

#[test]
fn adding_removing_clearing_and_resetting() {
    let t = table(serde_json::json!([{"endpoint": "jwks", "status": 500}]));
    assert!(!t.is_empty());
    let spec: FaultSpec =
        serde_json::from_value(serde_json::json!({"endpoint": "token", "drop": true})).unwrap();
    assert_eq!(t.add(&spec).unwrap().fault.name, "token-1");
    assert_eq!(t.add(&spec).unwrap().fault.name, "token-2");
    let named: FaultSpec = serde_json::from_value(
        serde_json::json!({"name": "token-1", "endpoint": "token", "drop": true}),
    )
    .unwrap();
    assert_eq!(
        t.add(&named).unwrap_err().to_string(),
        "name: 'token-1' names a fault already; remove it first or choose another name"
    );
    let bad: FaultSpec = serde_json::from_value(serde_json::json!({"endpoint": "token"})).unwrap();
    assert_eq!(
        t.add(&bad).unwrap_err().to_string(),
        "the fault does nothing: give status or error, delay, drop, body or lie"
    );
    assert!(t.remove("token-1"));
    assert!(!t.remove("token-1"));
    let names: Vec<String> = t.list().iter().map(|s| s.fault.name.clone()).collect();
    assert_eq!(names, ["f0", "token-2"]);
    assert_eq!(t.clear(), 2);
    assert!(t.is_empty());
    assert!(
        t.fire(FaultEndpoint::Jwks, Facts::default(), |_| true)
            .is_none()
    );
    t.reset();
    let listed = t.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].to_json()["source"], "configuration");
    assert_eq!(listed[0].to_json()["action"], "status 500 server_error");
}

#[test]
fn ordinals() {
    let names: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 102, 113].map(ordinal).to_vec();
    assert_eq!(
        names,
        [
            "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "102nd", "113th"
        ]
    );
}
