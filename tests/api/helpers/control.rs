//! The control API (issue 14) as a test drives it: `{issuer}/_tollgate/api/...`.

use super::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

impl TestApp {
    /// A control API request; returns the status and the JSON body (`Null` when empty).
    pub async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(&format!("/_tollgate/api{path}")));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A control API request that must succeed (any 2xx); returns the JSON body.
    pub async fn control_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.control(method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// Adds a fault through the control API; returns it as listed.
    pub async fn add_fault(&self, fault: Value) -> Value {
        let (status, answer) = self.control(Method::POST, "/faults", Some(fault)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["faults"][0].clone()
    }

    /// The faults in force, as the control API lists them.
    pub async fn faults(&self) -> Vec<Value> {
        let answer = self.control_ok(Method::GET, "/faults", None).await;
        answer["faults"].as_array().unwrap().clone()
    }

    /// The fault called `name`, as listed.
    pub async fn fault(&self, name: &str) -> Value {
        self.faults()
            .await
            .into_iter()
            .find(|fault| fault["name"] == name)
            .unwrap_or_else(|| panic!("no fault {name}"))
    }

    /// Moves the server's clock forward through the control API; returns the server's time.
    pub async fn advance(&self, by: &str) -> i64 {
        let answer = self
            .control_ok(Method::POST, "/clock", Some(json!({"advance": by})))
            .await;
        answer["now"].as_i64().unwrap()
    }

    /// The server's time, as the control API says.
    pub async fn server_now(&self) -> i64 {
        let answer = self.control_ok(Method::GET, "/clock", None).await;
        answer["now"].as_i64().unwrap()
    }

    /// The `fault.injected` events so far, oldest first.
    pub async fn injected(&self) -> Vec<Value> {
        self.all_events()
            .await
            .into_iter()
            .filter(|event| event["type"] == "fault.injected")
            .collect()
    }
}
