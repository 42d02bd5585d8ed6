//! Faults (issue 14): the failures a developer of an MCP client declares, delivered exactly
//! on the real flow. One shape in the configuration file (`[[faults]]`) and in the control
//! API (`POST /_tollgate/api/faults`, the same keys as JSON). A fault names an endpoint,
//! optionally the grant type and client it applies to, when it fires (`nth`, `every`,
//! `times`, `probability` with a `seed`) and what it does: a status with an RFC error body,
//! a delay, a dropped connection, a truncated body or a proxy's HTML page, or one of the
//! protocol lies a strict client must catch. [`FaultSpec::check`] turns the declared shape
//! into a [`Fault`] or says, field by field, why it could never fire.

mod check;

pub use check::{FaultProblem, MAX_DELAY, valid_name};

use super::duration;
use crate::oauth::error::ErrorCode;
use crate::oauth::grant_type::GrantType;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A fault as declared (TOML or JSON). Every key but `endpoint` is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// How events, the log and the control API name it; `{endpoint}-{n}` when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// metadata, jwks, register, authorize, token, revoke, introspect or cimd-fetch.
    pub endpoint: String,
    /// Only token requests of this grant type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// Only requests of this client (for cimd-fetch: this metadata document URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The first matching request it fires on (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nth: Option<u64>,
    /// Then every this many matching requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// At most this many times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The chance that it fires on a request its schedule picks, drawn from `seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Answer this status with an RFC 6749 error body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The RFC error code of that body (by default the one of the status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// `Retry-After` in whole seconds (a 429 gets 1 s unless told).
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
    /// Wait this long before answering.
    #[serde(with = "duration::optional", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Close the connection without an answer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// `truncated` (the real body cut in half) or `html` (a proxy's error page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A protocol lie ([`Lie`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lie: Option<String>,
    /// With `lie = "expires_in_mismatch"`: the `expires_in` the response claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

/// Where a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultEndpoint {
    Metadata,
    Jwks,
    Register,
    Authorize,
    Token,
    Revoke,
    Introspect,
    /// Tollgate's own fetch of a Client ID Metadata Document, as if the client's document
    /// server failed.
    CimdFetch,
}

impl FaultEndpoint {
    pub const ALL: [FaultEndpoint; 8] = [
        FaultEndpoint::Metadata,
        FaultEndpoint::Jwks,
        FaultEndpoint::Register,
        FaultEndpoint::Authorize,
        FaultEndpoint::Token,
        FaultEndpoint::Revoke,
        FaultEndpoint::Introspect,
        FaultEndpoint::CimdFetch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultEndpoint::Metadata => "metadata",
            FaultEndpoint::Jwks => "jwks",
            FaultEndpoint::Register => "register",
            FaultEndpoint::Authorize => "authorize",
            FaultEndpoint::Token => "token",
            FaultEndpoint::Revoke => "revoke",
            FaultEndpoint::Introspect => "introspect",
            FaultEndpoint::CimdFetch => "cimd-fetch",
        }
    }

    pub fn parse(name: &str) -> Option<FaultEndpoint> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Whether requests to it name a client (metadata, keys and registration do not).
    pub fn has_client(self) -> bool {
        !matches!(
            self,
            FaultEndpoint::Metadata | FaultEndpoint::Jwks | FaultEndpoint::Register
        )
    }
}

impl fmt::Display for FaultEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol lies: responses that look right and are not, which a strict client must
/// refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lie {
    /// The authorization response has no `iss` (RFC 9207 §2, though the metadata says
    /// `authorization_response_iss_parameter_supported`).
    IssMissing,
    /// The authorization response's `iss` is another issuer (RFC 9207 §2.4).
    IssWrong,
    /// The metadata document's `issuer` differs from the issuer it was fetched for
    /// (RFC 8414 §3.3).
    IssuerMismatch,
    /// The JWKS lacks the key that signs the tokens (RFC 7517).
    JwksMissingKey,
    /// The token response's `expires_in` differs from the access token's `exp`.
    ExpiresInMismatch,
    /// A refresh answers with the same refresh token and keeps it valid (no rotation,
    /// OAuth 2.1 §4.3.1).
    RefreshNotRotated,
    /// The access token is for another audience than the requested resource (RFC 8707).
    WrongAudience,
}

impl Lie {
    pub const ALL: [Lie; 7] = [
        Lie::IssMissing,
        Lie::IssWrong,
        Lie::IssuerMismatch,
        Lie::JwksMissingKey,
        Lie::ExpiresInMismatch,
        Lie::RefreshNotRotated,
        Lie::WrongAudience,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lie::IssMissing => "iss_missing",
            Lie::IssWrong => "iss_wrong",
            Lie::IssuerMismatch => "issuer_mismatch",
            Lie::JwksMissingKey => "jwks_missing_key",
            Lie::ExpiresInMismatch => "expires_in_mismatch",
            Lie::RefreshNotRotated => "refresh_not_rotated",
            Lie::WrongAudience => "wrong_audience",
        }
    }

    pub fn parse(name: &str) -> Option<Lie> {
        Self::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// The one endpoint that tells it.
    pub fn endpoint(self) -> FaultEndpoint {
        match self {
            Lie::IssMissing | Lie::IssWrong => FaultEndpoint::Authorize,
            Lie::IssuerMismatch => FaultEndpoint::Metadata,
            Lie::JwksMissingKey => FaultEndpoint::Jwks,
            Lie::ExpiresInMismatch | Lie::RefreshNotRotated | Lie::WrongAudience => {
                FaultEndpoint::Token
            }
        }
    }
}

/// What a fault does when it fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Nothing but its delay: the real response follows.
    Pass,
    /// A status with an RFC 6749 error body (an HTML error page at `authorize`; at
    /// `cimd-fetch`, the document server's status).
    Respond {
        status: u16,
        error: ErrorCode,
        description: Option<String>,
        retry_after: Option<u64>,
    },
    /// At `authorize`: the redirect back to the client carries this error instead of the
    /// code (RFC 6749 §4.1.2.1).
    RedirectError {
        error: ErrorCode,
        description: Option<String>,
    },
    /// The connection is closed without an answer.
    Drop,
    /// An HTML error page, as a proxy in front of the server would send.
    Html {
        status: u16,
        retry_after: Option<u64>,
    },
    /// The real response with its body cut in half.
    Truncate,
    Lie(Lie),
}

impl Effect {
    /// Whether it is decided when the request arrives, before the handler runs (the rest
    /// are decided where their response is made, and count only those responses).
    pub fn on_arrival(&self) -> bool {
        matches!(
            self,
            Effect::Pass
                | Effect::Respond { .. }
                | Effect::Drop
                | Effect::Html { .. }
                | Effect::Truncate
        )
    }
}

/// When a fault fires: on the matching requests at `nth`, `nth + every`, `nth + 2 every`,
/// ..., each with `probability`, at most `times` times.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub nth: u64,
    pub every: u64,
    pub times: Option<u64>,
    pub probability: Option<f64>,
    pub seed: u64,
}

impl Schedule {
    /// Whether the `position`-th matching request (1-based) is one the schedule picks,
    /// before the probability is drawn.
    pub fn picks(&self, position: u64) -> bool {
        position >= self.nth && (position - self.nth) % self.every.max(1) == 0
    }
}

/// A checked fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub name: String,
    pub endpoint: FaultEndpoint,
    pub grant_type: Option<GrantType>,
    pub client_id: Option<String>,
    pub schedule: Schedule,
    pub delay: Option<Duration>,
    pub effect: Effect,
    /// The `expires_in` of an `expires_in_mismatch` lie, if given.
    pub expires_in: Option<u64>,
    /// As declared (with its name filled in), for listing.
    pub spec: FaultSpec,
}

impl Fault {
    /// What it does, in a few words, for the log and the events.
    pub fn action(&self) -> String {
        let effect = match &self.effect {
            Effect::Pass => String::new(),
            Effect::Respond {
                status,
                error,
                retry_after,
                ..
            } => {
                let mut text = match self.endpoint {
                    // The document server's answer has no OAuth error.
                    FaultEndpoint::CimdFetch => format!("status {status}"),
                    _ => format!("status {status} {error}"),
                };
                if let Some(seconds) = retry_after {
                    text.push_str(&format!(" with Retry-After: {seconds}"));
                }
                text
            }
            Effect::RedirectError { error, .. } => format!("redirect with error={error}"),
            Effect::Drop => "connection dropped".to_owned(),
            Effect::Html { status, .. } => format!("HTML error page with status {status}"),
            Effect::Truncate => "body truncated".to_owned(),
            Effect::Lie(lie) => format!("lie {}", lie.as_str()),
        };
        match (self.delay, effect.is_empty()) {
            (Some(delay), true) => format!("delay {}", duration::format(&delay)),
            (Some(delay), false) => format!("delay {} then {effect}", duration::format(&delay)),
            (None, _) => effect,
        }
    }
}
