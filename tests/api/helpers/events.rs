//! The event log as a developer reads it (issue 12): `GET {issuer}/_tollgate/events`, and
//! ways to pick events out of what it lists.

use super::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

impl TestApp {
    /// The events `GET /_tollgate/events?{query}` lists, oldest first. The API stores what
    /// was recorded before it reads, so what the requests before it did is there, without
    /// waiting. None may have been dropped.
    pub async fn events(&self, query: &str) -> Vec<Value> {
        let response = self
            .http
            .get(self.url(&format!("/_tollgate/events?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body: Value = response.json().await.unwrap();
        assert_eq!(body["dropped"], 0, "events were dropped: {body}");
        assert_eq!(body["recording"], true);
        match body["events"].take() {
            Value::Array(events) => events,
            other => panic!("no events array: {other}"),
        }
    }

    /// Every event so far, oldest first.
    pub async fn all_events(&self) -> Vec<Value> {
        self.events("limit=10000").await
    }

    /// The newest event of type `kind`.
    pub async fn last_event(&self, kind: &str) -> Value {
        self.all_events()
            .await
            .into_iter()
            .rev()
            .find(|event| event["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event was recorded"))
    }

    /// The events recorded after the `seq` of `mark` (see [`TestApp::mark`]).
    pub async fn events_since(&self, mark: i64) -> Vec<Value> {
        self.events(&format!("after={mark}&limit=10000")).await
    }

    /// The `seq` of the newest event: what [`TestApp::events_since`] lists after.
    pub async fn mark(&self) -> i64 {
        self.all_events()
            .await
            .last()
            .map_or(0, |event| event["seq"].as_i64().unwrap())
    }
}

/// `event` without what differs from run to run (`id`, `seq`, `time`, `time_ms`), after
/// checking those: a UUID, a positive `seq`, and `time` as RFC 3339 of `time_ms`.
pub fn stable(event: &Value) -> Value {
    let mut event = event.clone();
    let object = event.as_object_mut().unwrap();
    let id = object.remove("id").unwrap();
    assert!(
        uuid::Uuid::parse_str(id.as_str().unwrap()).is_ok(),
        "id {id}"
    );
    assert!(object.remove("seq").unwrap().as_i64().unwrap() > 0);
    let time_ms = object.remove("time_ms").unwrap().as_i64().unwrap();
    let time = object.remove("time").unwrap();
    assert_eq!(time, tollgate::oauth::event::format_time(time_ms));
    event
}

/// The `time_ms` of `event`: when the server's clock said it happened.
pub fn time_ms(event: &Value) -> i64 {
    event["time_ms"].as_i64().unwrap()
}

/// The types of `events`, in order.
pub fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}
