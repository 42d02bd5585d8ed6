//! MCP over Streamable HTTP, spoken as a client would so that the only variable in an
//! authorization check is the token (research note §3). Two eras:
//!
//! - legacy (2025-06-18, 2025-11-25): `initialize`, then `notifications/initialized`, then
//!   requests with `Mcp-Session-Id` and `MCP-Protocol-Version` (2025-06-18 Transports
//!   §Protocol Version Header);
//! - modern (2026-07-28): no `initialize` and no session; every request carries
//!   `MCP-Protocol-Version`, `Mcp-Method` and `_meta` with the version, client info and
//!   capabilities (2026-07-28 Streamable HTTP §Request Metadata); `server/discover` first.
//!
//! The checker negotiates: it tries the profile's era first and falls back to the other as
//! 2026-07-28 Streamable HTTP §Backward Compatibility says (a 4xx without a recognised
//! modern JSON-RPC error means a legacy server), and reports what it used.

use super::catalogue::Profile;
use super::http::{Answer, Http};
use super::report::sanitize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicI64, Ordering};

const CLIENT_NAME: &str = "tollgate-check";
/// The newest revision with `initialize`.
const LEGACY_LATEST: &str = "2025-11-25";
const MODERN: &str = "2026-07-28";
/// 2026-07-28 basic/index §Error Codes: HeaderMismatch, MissingRequiredClientCapability,
/// UnsupportedProtocolVersion; in a 400 they identify a modern server.
const MODERN_ERRORS: [i64; 3] = [-32020, -32021, -32022];
const ACCEPT: &str = "application/json, text/event-stream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Legacy,
    Modern,
}

/// How the checker talks to the server once the handshake succeeded.
#[derive(Debug, Clone)]
pub struct Session {
    pub era: Era,
    /// The protocol version on the wire.
    pub version: String,
    /// The legacy `Mcp-Session-Id`, if the server gave one.
    pub id: Option<String>,
}

/// How a request carries the token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer(&'a str),
    /// `?access_token=` in the URL and no header (RFC 6750 §2.3, which OAuth 2.1 §5.1
    /// forbids).
    Query(&'a str),
}

/// Why the handshake with a valid token failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The server refused the token (401 or 403): what it said.
    Refused(String),
    /// Neither era worked: what each attempt got.
    Failed(String),
}

pub struct Mcp<'a> {
    http: &'a Http,
    url: &'a str,
    next_id: AtomicI64,
}

impl<'a> Mcp<'a> {
    pub fn new(http: &'a Http, url: &'a str) -> Self {
        Mcp {
            http,
            url,
            next_id: AtomicI64::new(1),
        }
    }

    fn id(&self) -> Value {
        Value::from(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The first request of `era`: `initialize` asking for `version`, or `server/discover`.
    pub async fn opening(&self, era: Era, version: &str, auth: Auth<'_>) -> Result<Answer, String> {
        match era {
            Era::Legacy => {
                let id = self.id();
                let body = json!({
                    "jsonrpc": "2.0", "id": id, "method": "initialize",
                    "params": {
                        "protocolVersion": version,
                        "capabilities": {},
                        "clientInfo": {"name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
                    },
                });
                self.post(&[], &body, Some(&id), auth).await
            }
            Era::Modern => self.modern("server/discover", auth).await,
        }
    }

    /// `method` (such as `tools/list`) in `session`.
    pub async fn request(
        &self,
        session: &Session,
        method: &str,
        auth: Auth<'_>,
    ) -> Result<Answer, String> {
        match session.era {
            Era::Modern => self.modern(method, auth).await,
            Era::Legacy => {
                let id = self.id();
                let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}});
                self.post(&legacy_headers(session), &body, Some(&id), auth)
                    .await
            }
        }
    }

    async fn modern(&self, method: &str, auth: Auth<'_>) -> Result<Answer, String> {
        let id = self.id();
        let body = json!({
            "jsonrpc": "2.0", "id": id, "method": method,
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientInfo":
                    {"name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
                "io.modelcontextprotocol/clientCapabilities": {},
            }},
        });
        let headers = [
            ("mcp-protocol-version", MODERN.to_owned()),
            ("mcp-method", method.to_owned()),
        ];
        self.post(&headers, &body, Some(&id), auth).await
    }

    async fn post(
        &self,
        headers: &[(&'static str, String)],
        body: &Value,
        reply_to: Option<&Value>,
        auth: Auth<'_>,
    ) -> Result<Answer, String> {
        let bearer;
        let mut all: Vec<(&str, &str)> = vec![("accept", ACCEPT)];
        all.extend(headers.iter().map(|(n, v)| (*n, v.as_str())));
        let url = match auth {
            Auth::None => self.url.to_owned(),
            Auth::Bearer(token) => {
                bearer = format!("Bearer {token}");
                all.push(("authorization", &bearer));
                self.url.to_owned()
            }
            Auth::Query(token) => with_query_token(self.url, token),
        };
        self.http.post(&url, &all, body, reply_to).await
    }

    /// The handshake with a valid token, in the profile's era first. Returns the session
    /// and, for the report, how it was reached.
    pub async fn connect(
        &self,
        profile: Profile,
        token: &str,
    ) -> Result<(Session, String), ConnectError> {
        let auth = Auth::Bearer(token);
        let mut notes: Vec<String> = Vec::new();
        let mut legacy_version = if profile.is_modern() {
            LEGACY_LATEST
        } else {
            profile.as_str()
        }
        .to_owned();
        let order = if profile.is_modern() {
            [Era::Modern, Era::Legacy]
        } else {
            [Era::Legacy, Era::Modern]
        };
        for era in order {
            let sent = match era {
                Era::Modern => "server/discover".to_owned(),
                Era::Legacy => format!("initialize ({legacy_version})"),
            };
            let answer = match self.opening(era, &legacy_version, auth).await {
                Ok(answer) => answer,
                Err(why) => {
                    notes.push(format!("{sent}: {why}"));
                    continue;
                }
            };
            if matches!(answer.status, 401 | 403) {
                return Err(ConnectError::Refused(format!(
                    "{sent} answered {}",
                    answer.describe()
                )));
            }
            let result = answer.message.as_ref().and_then(|m| m.get("result"));
            match (era, answer.is_success(), result) {
                (Era::Modern, true, Some(result)) => {
                    let versions = supported_versions(result);
                    if versions.iter().any(|v| v == MODERN) {
                        let how = format!(
                            "{MODERN}, stateless (server/discover lists {})",
                            versions.join(", ")
                        );
                        return Ok((
                            Session {
                                era,
                                version: MODERN.to_owned(),
                                id: None,
                            },
                            join(how, &notes),
                        ));
                    }
                    if let Some(newest) = versions.iter().filter(|v| v.as_str() < MODERN).max() {
                        legacy_version = newest.clone();
                    }
                    notes.push(format!(
                        "server/discover lists only {}",
                        versions.join(", ")
                    ));
                }
                (Era::Legacy, true, Some(result)) => {
                    let version = result["protocolVersion"]
                        .as_str()
                        .unwrap_or(&legacy_version);
                    let version = sanitize(version, 40);
                    let session = Session {
                        era,
                        version: version.clone(),
                        id: (answer.headers.get("mcp-session-id"))
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    };
                    let initialized =
                        json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
                    let done = self
                        .post(&legacy_headers(&session), &initialized, None, auth)
                        .await;
                    let how = match &done {
                        Ok(answer) if answer.is_success() => format!("{version} via initialize"),
                        Ok(answer) => format!(
                            "{version} via initialize (notifications/initialized answered {})",
                            answer.describe()
                        ),
                        Err(why) => {
                            format!("{version} via initialize (notifications/initialized: {why})")
                        }
                    };
                    return Ok((session, join(how, &notes)));
                }
                _ => {
                    let modern_error = answer.status == 400
                        && answer
                            .rpc_error_code()
                            .is_some_and(|c| MODERN_ERRORS.contains(&c));
                    let what = if answer.is_success() {
                        format!("{} without a JSON-RPC result", answer.describe())
                    } else {
                        answer.describe()
                    };
                    notes.push(format!("{sent} answered {what}"));
                    // UnsupportedProtocolVersion lists what the server speaks; an older
                    // revision among them means initialize (Versioning §Protocol Version
                    // Negotiation).
                    let supported = answer.message.clone().or_else(|| answer.json());
                    let supported = supported.as_ref().map(|m| &m["error"]["data"]);
                    let legacy = supported
                        .map(|data| json!({"supportedVersions": data["supported"]}))
                        .map(|data| supported_versions(&data))
                        .and_then(|versions| {
                            versions.into_iter().filter(|v| v.as_str() < MODERN).max()
                        });
                    if let (Era::Modern, Some(-32022), Some(version)) =
                        (era, answer.rpc_error_code(), legacy)
                    {
                        legacy_version = version;
                        continue;
                    }
                    if era == Era::Modern && modern_error {
                        // A modern server that refused the request itself: falling back to
                        // initialize would not help (Backward Compatibility).
                        return Err(ConnectError::Failed(notes.join("; ")));
                    }
                }
            }
        }
        Err(ConnectError::Failed(notes.join("; ")))
    }

    /// Ends a legacy session (the client SHOULD send DELETE; 2025-11-25 Transports
    /// §Session Management).
    pub async fn close(&self, session: &Session, token: &str) {
        if let (Era::Legacy, Some(id)) = (session.era, &session.id) {
            let bearer = format!("Bearer {token}");
            let headers = [
                ("mcp-session-id", id.as_str()),
                ("authorization", bearer.as_str()),
            ];
            self.http.delete(self.url, &headers).await;
        }
    }
}

/// `Mcp-Session-Id` and `MCP-Protocol-Version` for requests after `initialize`; the header
/// came with 2025-06-18, so it is left out for a session that negotiated 2025-03-26.
fn legacy_headers(session: &Session) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(id) = &session.id {
        headers.push(("mcp-session-id", id.clone()));
    }
    if session.version.as_str() != "2025-03-26" {
        headers.push(("mcp-protocol-version", session.version.clone()));
    }
    headers
}

fn supported_versions(result: &Value) -> Vec<String> {
    (result["supportedVersions"].as_array().into_iter().flatten())
        .filter_map(|v| v.as_str())
        .map(|v| sanitize(v, 40))
        .collect()
}

fn join(how: String, notes: &[String]) -> String {
    if notes.is_empty() {
        how
    } else {
        format!("{how}; first tried: {}", notes.join("; "))
    }
}

/// `url` with `access_token=token` added to its query.
fn with_query_token(url: &str, token: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().append_pair("access_token", token);
            parsed.to_string()
        }
        Err(_) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_token_is_added_to_an_existing_query() {
        assert_eq!(
            with_query_token("http://h/mcp", "a.b.c"),
            "http://h/mcp?access_token=a.b.c"
        );
        assert_eq!(
            with_query_token("http://h/mcp?x=1", "t"),
            "http://h/mcp?x=1&access_token=t"
        );
    }

    #[test]
    fn legacy_requests_carry_the_session_and_the_negotiated_version() {
        let session = Session {
            era: Era::Legacy,
            version: "2025-06-18".to_owned(),
            id: Some("s1".to_owned()),
        };
        assert_eq!(
            legacy_headers(&session),
            [
                ("mcp-session-id", "s1".to_owned()),
                ("mcp-protocol-version", "2025-06-18".to_owned())
            ]
        );
        let old = Session {
            version: "2025-03-26".to_owned(),
            id: None,
            ..session
        };
        assert!(legacy_headers(&old).is_empty());
    }
}
