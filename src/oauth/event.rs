//! Events: every step of an authorization, and every refusal, as one structured record. The
//! event log is what the console, `tollgate events` and the audit export read.

use super::error::OAuthError;
use super::rules::{self, Rule};
use serde::Serialize;
use serde_json::{Map, Value};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `GET` of an authorization server metadata document (RFC 8414, OIDC Discovery).
    MetadataFetch,
    /// `GET` of the JWKS.
    JwksFetch,
    /// RFC 7591 dynamic registration.
    Registration,
    /// A Client ID Metadata Document fetched (or refused) for a URL client id.
    DocumentFetch,
    /// RFC 7592 `GET`, `PUT` and `DELETE` of a client's configuration.
    ClientRead,
    ClientUpdate,
    ClientDelete,
    /// `GET /authorize` with its parsed parameters.
    AuthorizationRequest,
    /// The consent page was shown.
    ConsentShown,
    /// The user's decision (`POST /authorize`); refusals of the form itself too.
    ConsentDecision,
    ConsentApproved,
    ConsentDenied,
    /// An authorization code was issued (on approval, or by automatic consent).
    CodeIssued,
    /// `POST /token`, with the grant type and how the client authenticated.
    TokenRequest,
    /// Tokens were issued: `jti`, `aud`, scope, expiry; never a token value.
    TokensIssued,
    /// A spent code or refresh token was used again.
    Replay,
    /// A grant and every token of its family were revoked.
    FamilyRevoked,
    /// RFC 7009 revocation.
    Revocation,
    /// RFC 7662 introspection.
    Introspection,
    /// The signing key was rotated.
    KeyRotation,
    /// A request to a path that is no endpoint of this server.
    UnknownPath,
    /// RFC 8628 §3.1: a device asked for a device code and a user code.
    DeviceAuthorization,
    /// The device verification page (RFC 8628 §3.3): a user code typed in or followed from
    /// `verification_uri_complete`.
    DeviceVerification,
    /// The user's decision on the device verification page.
    DeviceDecision,
    /// An identity assertion (ID-JAG) issued by token exchange, in the IdP role.
    AssertionIssued,
    /// An identity assertion (ID-JAG) accepted by the JWT bearer grant.
    AssertionAccepted,
    /// A fault was injected (issue 14): the response was not what the server would have
    /// answered. Its details name the fault and what it did.
    FaultInjected,
    /// An operation of the control API or the test fixture: the clock moved, tokens
    /// revoked or expired, a reset, faults added or removed.
    Control,
}

impl EventType {
    pub const ALL: [EventType; 28] = [
        EventType::MetadataFetch,
        EventType::JwksFetch,
        EventType::Registration,
        EventType::DocumentFetch,
        EventType::ClientRead,
        EventType::ClientUpdate,
        EventType::ClientDelete,
        EventType::AuthorizationRequest,
        EventType::ConsentShown,
        EventType::ConsentDecision,
        EventType::ConsentApproved,
        EventType::ConsentDenied,
        EventType::CodeIssued,
        EventType::TokenRequest,
        EventType::TokensIssued,
        EventType::Replay,
        EventType::FamilyRevoked,
        EventType::Revocation,
        EventType::Introspection,
        EventType::KeyRotation,
        EventType::UnknownPath,
        EventType::DeviceAuthorization,
        EventType::DeviceVerification,
        EventType::DeviceDecision,
        EventType::AssertionIssued,
        EventType::AssertionAccepted,
        EventType::FaultInjected,
        EventType::Control,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MetadataFetch => "metadata.fetch",
            EventType::JwksFetch => "jwks.fetch",
            EventType::Registration => "client.register",
            EventType::DocumentFetch => "client.document_fetch",
            EventType::ClientRead => "client.read",
            EventType::ClientUpdate => "client.update",
            EventType::ClientDelete => "client.delete",
            EventType::AuthorizationRequest => "authorization.request",
            EventType::ConsentShown => "consent.shown",
            EventType::ConsentDecision => "consent.decision",
            EventType::ConsentApproved => "consent.approved",
            EventType::ConsentDenied => "consent.denied",
            EventType::CodeIssued => "code.issued",
            EventType::TokenRequest => "token.request",
            EventType::TokensIssued => "token.issued",
            EventType::Replay => "token.replay",
            EventType::FamilyRevoked => "grant.revoked",
            EventType::Revocation => "token.revoke",
            EventType::Introspection => "token.introspect",
            EventType::KeyRotation => "keys.rotate",
            EventType::UnknownPath => "request.unknown_path",
            EventType::DeviceAuthorization => "device.authorization",
            EventType::DeviceVerification => "device.verification",
            EventType::DeviceDecision => "device.decision",
            EventType::AssertionIssued => "id_jag.issued",
            EventType::AssertionAccepted => "id_jag.accepted",
            EventType::FaultInjected => "fault.injected",
            EventType::Control => "control",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Whether the step went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Rejected => "rejected",
        }
    }

    pub fn parse(name: &str) -> Option<Outcome> {
        match name {
            "ok" => Some(Outcome::Ok),
            "rejected" => Some(Outcome::Rejected),
            _ => None,
        }
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// Its place in the log, assigned when stored (0 before).
    pub seq: i64,
    /// Milliseconds since the Unix epoch, by the server's clock.
    pub time_ms: i64,
    /// One id follows an authorization from the request through the code, the token and
    /// every refresh; `None` for steps outside a flow (metadata, registration).
    pub flow: Option<String>,
    pub kind: EventType,
    /// The endpoint, as its metadata name: `token`, `authorization`, `registration`, ...
    pub endpoint: Option<String>,
    pub client_id: Option<String>,
    pub user: Option<String>,
    pub outcome: Outcome,
    /// The RFC error code of a refusal.
    pub error: Option<String>,
    /// The error description, or a sentence saying what happened.
    pub description: Option<String>,
    /// The checklist row id of the rule that decided.
    pub rule: Option<String>,
    pub expected: Option<String>,
    pub received: Option<String>,
    pub hint: Option<String>,
    /// What else the step is about: parameters, grant type, `jti`, `aud`, ...
    pub details: Map<String, Value>,
}

impl Event {
    /// An event of `kind` that went through.
    pub fn new(kind: EventType, time_ms: i64) -> Self {
        Event {
            // Time-ordered (UUIDv7), as are flow ids, grant ids and `jti`s: each new row then
            // lands on the last page of its unique index instead of a random one, so a batch
            // of events rewrites a few pages of SQLite's log rather than one per event.
            id: uuid::Uuid::now_v7().to_string(),
            seq: 0,
            time_ms,
            flow: None,
            kind,
            endpoint: None,
            client_id: None,
            user: None,
            outcome: Outcome::Ok,
            error: None,
            description: None,
            rule: None,
            expected: None,
            received: None,
            hint: None,
            details: Map::new(),
        }
    }

    /// Marks the event as a refusal for `error`, with everything the error explains.
    pub fn reject(&mut self, error: &OAuthError) {
        self.outcome = Outcome::Rejected;
        self.error = Some(error.code.as_str().to_owned());
        self.description = Some(error.description.clone().into_owned());
        if let Some(explanation) = &error.explanation {
            self.rule = explanation.rule.map(|rule| rule.id.to_owned());
            self.expected.clone_from(&explanation.expected);
            self.received.clone_from(&explanation.received);
            self.hint.clone_from(&explanation.hint);
        }
    }

    /// Adds a detail.
    pub fn detail(&mut self, name: &str, value: impl Into<Value>) {
        self.details.insert(name.to_owned(), value.into());
    }

    /// The rule this event cites, from the catalogue.
    pub fn rule(&self) -> Option<&'static Rule> {
        self.rule.as_deref().and_then(rules::find)
    }

    /// The event as JSON, the shape of the API and of `tollgate events --json`.
    pub fn to_json(&self) -> Value {
        let rule = self.rule.as_ref().map(|id| match rules::find(id) {
            Some(rule) => serde_json::to_value(RuleJson::from(rule)).unwrap_or(Value::Null),
            None => serde_json::json!({ "id": id }),
        });
        let mut json = serde_json::json!({
            "id": self.id,
            "seq": self.seq,
            "time": format_time(self.time_ms),
            "time_ms": self.time_ms,
            "flow": self.flow,
            "type": self.kind.as_str(),
            "endpoint": self.endpoint,
            "client_id": self.client_id,
            "user": self.user,
            "outcome": self.outcome.as_str(),
            "error": self.error,
            "description": self.description,
            "rule": rule,
            "expected": self.expected,
            "received": self.received,
            "hint": self.hint,
            "details": self.details,
        });
        if let Value::Object(object) = &mut json {
            object.retain(|_, value| !value.is_null());
        }
        json
    }
}

#[derive(Serialize)]
struct RuleJson {
    id: &'static str,
    title: &'static str,
    source: &'static str,
    url: &'static str,
}

impl From<&Rule> for RuleJson {
    fn from(rule: &Rule) -> Self {
        RuleJson {
            id: rule.id,
            title: rule.title,
            source: rule.source,
            url: rule.url,
        }
    }
}

/// RFC 3339 in UTC with milliseconds, such as `2026-12-04T12:30:32.123Z`.
pub fn format_time(time_ms: i64) -> String {
    let seconds = time_ms.div_euclid(1000);
    let millis = time_ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::rules::TK_7;

    #[test]
    fn times_are_rfc_3339_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(784_111_777_042), "1994-11-06T08:49:37.042Z");
        assert_eq!(format_time(1_835_481_599_999), "2028-02-29T23:59:59.999Z");
    }

    #[test]
    fn a_refusal_carries_the_explanation_of_its_error() {
        let error = OAuthError::invalid_grant("redirect_uri differs")
            .rule(&TK_7)
            .compared("http://127.0.0.1:3000/cb", "http://localhost:3000/cb")
            .hint(Some("localhost is not 127.0.0.1".to_owned()));
        let mut event = Event::new(EventType::TokenRequest, 1);
        event.reject(&error);
        let json = event.to_json();
        assert_eq!(json["outcome"], "rejected");
        assert_eq!(json["error"], "invalid_grant");
        assert_eq!(json["rule"]["id"], "TK-7");
        assert_eq!(json["rule"]["source"], "OAuth 2.1 §10.2");
        assert_eq!(json["expected"], "http://127.0.0.1:3000/cb");
        assert_eq!(json["hint"], "localhost is not 127.0.0.1");
        assert!(json.get("user").is_none(), "empty fields are left out");
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
    }
}
