//! What the example's tests share: a JSON-RPC client of the example MCP server over
//! Streamable HTTP.
#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// A JSON-RPC client over Streamable HTTP.
pub struct Mcp {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
    pub session: Option<String>,
    pub next_id: u64,
}

impl Mcp {
    pub async fn post(&self, message: &Value) -> reqwest::Response {
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .json(message);
        if let Some(session) = &self.session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        request.send().await.unwrap()
    }

    /// Sends a request and returns the HTTP response, which the caller checks.
    pub async fn send(&mut self, method: &str, params: Value) -> (u64, reqwest::Response) {
        let id = self.next_id;
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        (id, self.post(&message).await)
    }

    /// Sends a request that must succeed and returns its JSON-RPC `result`.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let (id, response) = self.send(method, params).await;
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.session = Some(session.to_str().unwrap().to_owned());
        }
        let reply = reply(response, id).await;
        assert!(reply["error"].is_null(), "{method} failed: {reply}");
        reply["result"].clone()
    }

    /// The initialization handshake; returns the `initialize` result.
    pub async fn initialize(&mut self) -> Value {
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "example-test", "version": "1.0"}
        });
        let result = self.request("initialize", params).await;
        assert!(self.session.is_some(), "no Mcp-Session-Id");
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(self.post(&initialized).await.status(), StatusCode::ACCEPTED);
        result
    }

    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let result =
            (self.request("tools/call", json!({"name": tool, "arguments": arguments}))).await;
        assert_ne!(result["isError"], true, "{tool}: {result}");
        result
    }
}

/// The JSON-RPC response with `id`, from a JSON body or from an SSE stream (read only until
/// the response arrives: a stream may stay open).
pub async fn reply(mut response: reqwest::Response, id: u64) -> Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    if content_type.starts_with("application/json") {
        return response.json().await.unwrap();
    }
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut text = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        // Events end with a blank line; their `data:` lines hold the message.
        for event in text.replace("\r\n", "\n").split("\n\n") {
            let data: Vec<&str> = (event.lines())
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if let Ok(message) = serde_json::from_str::<Value>(&data.join("\n"))
                && message["id"] == id
            {
                return message;
            }
        }
    }
    panic!("the stream ended without a response to {id}: {text}");
}
