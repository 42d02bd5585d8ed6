//! What the console's pages show, shaped for the templates: times, events, clients. Nothing
//! here reads a secret: a client's view holds its metadata, never its secret digest, and a
//! key's view holds its id and dates, never its private key.

use crate::oauth::client::Client;
use crate::oauth::consent::ConsentMode;
use crate::oauth::event::{Event, Outcome, format_time};
use crate::oauth::rules::Rule;
use crate::state::App;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What every page's frame needs: where the console is, the issuer, which section is open.
pub struct Frame<'a> {
    pub base: &'a str,
    pub issuer: &'a str,
    /// The navigation entry to mark as the current page.
    pub section: &'static str,
}

impl<'a> Frame<'a> {
    pub fn new(app: &'a App, section: &'static str) -> Self {
        Frame {
            base: app.console.as_ref().map_or("", |c| c.base.as_str()),
            issuer: app.issuer.as_str(),
            section,
        }
    }

    /// The navigation: (section, label, path under the console).
    pub fn sections(&self) -> [(&'static str, &'static str, &'static str); 5] {
        [
            ("flows", "Flows", "/"),
            ("clients", "Clients", "/clients"),
            ("users", "Users", "/users"),
            ("keys", "Keys", "/keys"),
            ("resources", "Resources", "/resources"),
        ]
    }

    /// The console's page of a flow.
    pub fn flow_url(&self, flow: &str) -> String {
        format!("{}/flows/{}", self.base, encode(flow))
    }

    /// The console's page of an event.
    pub fn event_url(&self, id: &str) -> String {
        format!("{}/events/{}", self.base, encode(id))
    }

    /// The console's page of a client's events.
    pub fn client_events(&self, client_id: &str) -> String {
        format!("{}/?client={}", self.base, encode(client_id))
    }
}

/// What [`encode`] leaves alone: RFC 3986 §2.3 unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value for a URL's query or path segment: everything but unreserved characters
/// percent-encoded (client ids may be URLs).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// A point in time as the pages show it: the date and time apart, the full RFC 3339 form
/// for `<time datetime>`.
pub struct Time {
    pub iso: String,
    pub date: String,
    pub clock: String,
}

impl Time {
    pub fn from_millis(time_ms: i64) -> Self {
        let iso = format_time(time_ms);
        let (date, rest) = iso.split_once('T').unwrap_or((iso.as_str(), ""));
        let clock = rest.trim_end_matches('Z').to_owned();
        Time {
            date: date.to_owned(),
            clock,
            iso: iso.clone(),
        }
    }

    /// A time stored in whole seconds, shown without milliseconds.
    pub fn from_seconds(time_s: i64) -> Self {
        let mut time = Self::from_millis(time_s.saturating_mul(1000));
        if let Some(clock) = time.clock.strip_suffix(".000") {
            time.clock = clock.to_owned();
        }
        time
    }
}

/// One event as the pages show it.
pub struct Step {
    pub id: String,
    pub kind: &'static str,
    pub rejected: bool,
    pub time: Time,
    pub flow: Option<String>,
    pub endpoint: Option<String>,
    pub client_id: Option<String>,
    pub user: Option<String>,
    pub error: Option<String>,
    pub description: Option<String>,
    pub rule: Option<&'static Rule>,
    /// A rule id the catalogue does not know (recorded by another version).
    pub rule_id: Option<String>,
    pub expected: Option<String>,
    pub received: Option<String>,
    pub hint: Option<String>,
    pub details: String,
}

impl From<&Event> for Step {
    fn from(event: &Event) -> Self {
        Step {
            id: event.id.clone(),
            kind: event.kind.as_str(),
            rejected: event.outcome == Outcome::Rejected,
            time: Time::from_millis(event.time_ms),
            flow: event.flow.clone(),
            endpoint: event.endpoint.clone(),
            client_id: event.client_id.clone(),
            user: event.user.clone(),
            error: event.error.clone(),
            description: event.description.clone(),
            rule: event.rule(),
            rule_id: event.rule.clone().filter(|_| event.rule().is_none()),
            expected: event.expected.clone(),
            received: event.received.clone(),
            hint: event.hint.clone(),
            details: if event.details.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&event.details).unwrap_or_default()
            },
        }
    }
}

/// A client as the clients page shows it: its RFC 7591 metadata and Tollgate's policy.
pub struct ClientCard {
    pub client_id: String,
    pub name: Option<String>,
    pub source: &'static str,
    pub auth_method: &'static str,
    pub confidential: bool,
    pub grants: Vec<&'static str>,
    pub redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub consent: Option<&'static str>,
    pub approves_as: Option<String>,
    pub introspection: bool,
    pub created: Time,
    /// The stored registration metadata (RFC 7591 §2), pretty-printed.
    pub payload: String,
    /// The console's page of its events.
    pub events_url: String,
}

impl ClientCard {
    pub fn new(client: &Client, frame: &Frame<'_>) -> Self {
        let metadata = &client.metadata;
        ClientCard {
            client_id: client.client_id.clone(),
            name: metadata.client_name.clone(),
            source: source_label(client),
            auth_method: metadata.token_endpoint_auth_method.as_str(),
            confidential: metadata.is_confidential(),
            grants: metadata.grant_type_names(),
            redirect_uris: metadata.redirect_uris.clone(),
            allowed_scopes: client.policy.allowed_scopes.clone(),
            consent: client.policy.consent.map(consent_label),
            approves_as: client.policy.user.clone(),
            introspection: client.policy.introspection,
            created: Time::from_seconds(client.created_at),
            payload: serde_json::to_string_pretty(metadata).unwrap_or_default(),
            events_url: frame.client_events(&client.client_id),
        }
    }
}

pub fn consent_label(mode: ConsentMode) -> &'static str {
    match mode {
        ConsentMode::Prompt => "prompt",
        ConsentMode::Auto => "auto",
        ConsentMode::Deny => "deny",
    }
}

fn source_label(client: &Client) -> &'static str {
    use crate::oauth::client::ClientSource;
    match client.source {
        ClientSource::Dynamic => "dynamic registration",
        ClientSource::Declared => "configuration file",
        ClientSource::Cli => "tollgate clients add",
        ClientSource::Document => "metadata document",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_split_into_date_and_clock() {
        let time = Time::from_millis(784_111_777_042);
        assert_eq!(time.date, "1994-11-06");
        assert_eq!(time.clock, "08:49:37.042");
        assert_eq!(time.iso, "1994-11-06T08:49:37.042Z");
        assert_eq!(Time::from_seconds(1).clock, "00:00:01");
    }

    #[test]
    fn url_values_are_encoded_whole() {
        assert_eq!(
            encode("https://app.example/c?x=1&y"),
            "https%3A%2F%2Fapp.example%2Fc%3Fx%3D1%26y"
        );
        assert_eq!(encode("a-b_c.d~1"), "a-b_c.d~1");
    }
}
