//! HTTP to a server that is being tested, so trusted for nothing: every exchange has a
//! deadline, no redirect is followed, a body is read only up to a limit, and a JSON-RPC
//! answer is taken from a JSON body or from an SSE stream (Streamable HTTP: "The client
//! MUST support both"), whose reading stops at the answer.

use super::report::sanitize;
use crate::oauth::www_authenticate::{self, Challenge};
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde_json::Value;
use std::time::Duration;

/// The most of a body that is read.
const MAX_BODY: usize = 256 * 1024;
/// How much of a body or header the evidence quotes.
const QUOTE: usize = 300;

/// A client for the server under test.
pub struct Http {
    client: reqwest::Client,
    timeout: Duration,
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The JSON-RPC response with the expected id, when one was awaited and came.
    pub message: Option<Value>,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .user_agent(concat!("tollgate-check/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Http { client, timeout })
    }

    /// `GET url`, with JSON preferred.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
        let mut request = self.client.get(url).header("accept", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.exchange(request, None).await
    }

    /// `POST url` with a JSON body; when `reply_to` is a JSON-RPC id, the answer's
    /// `message` is the response with that id.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &Value,
        reply_to: Option<&Value>,
    ) -> Result<Answer, String> {
        let mut request = self.client.post(url).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.exchange(request, reply_to).await
    }

    /// `DELETE url`; the answer does not matter.
    pub async fn delete(&self, url: &str, headers: &[(&str, &str)]) {
        let mut request = self.client.delete(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let _ = tokio::time::timeout(self.timeout, request.send()).await;
    }

    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        reply_to: Option<&Value>,
    ) -> Result<Answer, String> {
        let seconds = self.timeout.as_secs_f32();
        tokio::time::timeout(self.timeout, async {
            let response = request.send().await.map_err(|e| describe_error(&e))?;
            read(response, reply_to).await
        })
        .await
        .unwrap_or_else(|_| Err(format!("no complete answer within {seconds} s")))
    }
}

/// Why a request failed, with the causes reqwest wraps (connection refused, ...).
fn describe_error(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    sanitize(&text, QUOTE)
}

async fn read(mut response: reqwest::Response, reply_to: Option<&Value>) -> Result<Answer, String> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let stream = content_type(&headers).as_deref() == Some("text/event-stream");
    let mut body = Vec::new();
    let mut events = EventStream::default();
    let mut message = None;
    while body.len() < MAX_BODY {
        let Some(chunk) = response.chunk().await.map_err(|e| describe_error(&e))? else {
            break;
        };
        let room = MAX_BODY - body.len();
        let chunk = &chunk[..chunk.len().min(room)];
        body.extend_from_slice(chunk);
        if let (true, Some(id)) = (stream, reply_to) {
            message = events
                .feed(chunk)
                .into_iter()
                .find_map(|data| response_to(&data, id));
            if message.is_some() {
                // The answer is in; the stream may stay open (SSE), so stop reading.
                break;
            }
        }
    }
    if let (false, Some(id)) = (stream, reply_to) {
        message = response_to(&body, id);
    }
    Ok(Answer {
        status,
        headers,
        body,
        message,
    })
}

/// The JSON-RPC response with this id, if `data` is one.
fn response_to(data: &[u8], id: &Value) -> Option<Value> {
    let message: Value = serde_json::from_slice(data).ok()?;
    let is_response = message.get("result").is_some() || message.get("error").is_some();
    (is_response && message.get("id") == Some(id)).then_some(message)
}

/// The media type of a `Content-Type`, lower case, without parameters.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The challenges of every `WWW-Authenticate` field.
    pub fn challenges(&self) -> Result<Vec<Challenge>, String> {
        let values: Result<Vec<&str>, _> = self
            .headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str())
            .collect();
        let values = values.map_err(|_| "a WWW-Authenticate field is not ASCII".to_owned())?;
        www_authenticate::parse(values)
    }

    /// The `Bearer` challenge, if one parses.
    pub fn bearer(&self) -> Option<Challenge> {
        let challenges = self.challenges().ok()?;
        www_authenticate::bearer(&challenges).cloned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The JSON-RPC error code of the answer's message or body, if it is an error.
    pub fn rpc_error_code(&self) -> Option<i64> {
        let message = self.message.clone().or_else(|| self.json())?;
        message.get("error")?.get("code")?.as_i64()
    }

    /// The status line and, for the evidence, the challenge or the start of the body.
    pub fn describe(&self) -> String {
        let reason = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or_default();
        let mut text = format!("{} {reason}", self.status);
        let challenges: Vec<String> = (self.headers.get_all(WWW_AUTHENTICATE).iter())
            .map(|v| sanitize(&String::from_utf8_lossy(v.as_bytes()), QUOTE))
            .collect();
        if !challenges.is_empty() {
            text.push_str(&format!(", WWW-Authenticate: {}", challenges.join(" | ")));
        } else if !self.is_success() && !self.body.is_empty() {
            let body = String::from_utf8_lossy(&self.body);
            text.push_str(&format!(", body: {}", sanitize(body.trim(), QUOTE)));
        }
        text
    }
}

/// The WHATWG event-stream format, fed in chunks that may split lines (and characters):
/// `data:` lines are joined with `\n`, a blank line ends an event, comments (`:`) and other
/// fields are ignored, and events without data (2025-11-25 priming events) are dropped.
#[derive(Default)]
struct EventStream {
    pending: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl EventStream {
    /// The data of each event that `chunk` completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A CR at the very end may be the first half of a CRLF: wait for more.
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let skip = if self.pending[end] == b'\r' && self.pending[end + 1] == b'\n' {
                2
            } else {
                1
            };
            let line: Vec<u8> = self.pending.drain(..end + skip).take(end).collect();
            if line.is_empty() {
                if self.has_data && !self.data.is_empty() {
                    events.push(std::mem::take(&mut self.data));
                }
                self.data.clear();
                self.has_data = false;
            } else if let Some(value) = field(&line, b"data") {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
        }
        events
    }
}

/// The value of `line` if it is the field `name` (`name:value`, one leading space
/// dropped, or `name` alone for an empty value).
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?;
    if rest.is_empty() {
        return Some(rest);
    }
    let value = rest.strip_prefix(b":")?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_crlf_comments_and_priming() {
        let mut stream = EventStream::default();
        // A priming event (id, empty data), a comment, then a two-line event split mid-line
        // and between CR and LF.
        assert!(
            stream
                .feed(b"id: 1\r\ndata:\r\n\r\n: keep-alive\r\nda")
                .is_empty()
        );
        assert!(stream.feed(b"ta: {\"a\":\r").is_empty());
        assert!(stream.feed(b"\ndata: 1}\r").is_empty());
        let events = stream.feed(b"\n\r\nevent: x\ndata: two\n\n");
        assert_eq!(events, [b"{\"a\":\n1}".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn only_the_response_with_the_awaited_id_is_taken() {
        let id = Value::from(7);
        assert!(
            response_to(
                br#"{"jsonrpc":"2.0","method":"notifications/progress"}"#,
                &id
            )
            .is_none()
        );
        assert!(response_to(br#"{"jsonrpc":"2.0","id":6,"result":{}}"#, &id).is_none());
        assert!(response_to(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#, &id).is_some());
        assert!(response_to(br#"{"jsonrpc":"2.0","id":7,"error":{"code":-1}}"#, &id).is_some());
        assert!(response_to(b"not json", &id).is_none());
    }
}
