//! The OAuth error vocabulary: one enum whose strings are the registered RFC codes, and one
//! error value that carries a code plus a description written for the developer who sent the
//! request (what was wrong, what was expected, which rule says so).

use super::rules::Rule;
use std::borrow::Cow;
use std::fmt;

/// Error codes from RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 7009 §2.2.1,
/// RFC 8707 §2, RFC 8628 §3.5 and OpenID Connect Core §3.1.2.6. `Display` is the exact wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InvalidRedirectUri,
    InvalidClientMetadata,
    InvalidToken,
    UnsupportedTokenType,
    InteractionRequired,
    /// RFC 8628 §3.5: the user has not decided yet; poll again after the interval.
    AuthorizationPending,
    /// RFC 8628 §3.5: polling too fast; the interval grows by 5 seconds.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired.
    ExpiredToken,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidClient,
        ErrorCode::InvalidGrant,
        ErrorCode::UnauthorizedClient,
        ErrorCode::UnsupportedGrantType,
        ErrorCode::InvalidScope,
        ErrorCode::InvalidTarget,
        ErrorCode::AccessDenied,
        ErrorCode::UnsupportedResponseType,
        ErrorCode::ServerError,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::InvalidRedirectUri,
        ErrorCode::InvalidClientMetadata,
        ErrorCode::InvalidToken,
        ErrorCode::UnsupportedTokenType,
        ErrorCode::InteractionRequired,
    ];

    /// The code with this wire name.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    /// The HTTP status of this error on a JSON endpoint: 401 where a client failed to
    /// authenticate (RFC 6749 §5.2) or a token is refused (RFC 6750 §3.1), 500 and 503 for
    /// the server's own trouble, 400 otherwise.
    pub fn json_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a client caused, with a description that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// For the developer reading the event log: the rule, the values compared, a hint.
    pub explanation: Option<Box<Explanation>>,
}

/// Why exactly a request was refused, beyond the wire description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The checklist row the request broke.
    pub rule: Option<&'static Rule>,
    /// What the server expected, where a value was compared.
    pub expected: Option<String>,
    /// What the request sent.
    pub received: Option<String>,
    /// What the developer most likely meant, for a near-miss.
    pub hint: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            explanation: None,
        }
    }

    /// Names the rule this error enforces.
    pub fn rule(mut self, rule: &'static Rule) -> Self {
        self.explained().rule = Some(rule);
        self
    }

    /// Records the values compared: what was expected and what was received.
    pub fn compared(mut self, expected: impl Into<String>, received: impl Into<String>) -> Self {
        let explanation = self.explained();
        explanation.expected = Some(expected.into());
        explanation.received = Some(received.into());
        self
    }

    /// Adds a hint, if there is one: what the developer most likely meant.
    pub fn hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.explained().hint = hint;
        }
        self
    }

    /// The rule this error enforces, if it names one.
    pub fn rule_id(&self) -> Option<&'static str> {
        self.explanation.as_ref()?.rule.map(|rule| rule.id)
    }

    fn explained(&mut self) -> &mut Explanation {
        self.explanation.get_or_insert_with(Box::default)
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidTarget, description)
    }

    pub fn invalid_client_metadata(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClientMetadata, description)
    }

    pub fn invalid_redirect_uri(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRedirectUri, description)
    }

    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }

    /// Error descriptions are restricted to printable ASCII without `"` and `\`
    /// (RFC 6749 §5.2: `%x20-21 / %x23-5B / %x5D-7E`). Descriptions quote client input, so
    /// anything outside that set is replaced before it goes on the wire; the section signs
    /// of our own citations are spelled out. Quoted input is not echoed without bound: a
    /// megabyte-long `client_id` must not come back as a megabyte-long error.
    pub fn wire_description(&self) -> String {
        let mut wire = String::with_capacity(self.description.len().min(MAX_WIRE_DESCRIPTION));
        for (written, c) in self.description.chars().enumerate() {
            if written == MAX_WIRE_DESCRIPTION {
                let left = self.description.chars().count() - written;
                wire.push_str(&format!(" [... {left} more characters not shown]"));
                break;
            }
            match c {
                '§' => wire.push_str("section "),
                '"' => wire.push('\''),
                '\\' => wire.push('/'),
                ' '..='~' => wire.push(c),
                _ => wire.push('?'),
            }
        }
        wire
    }
}

/// Long enough for every description Tollgate writes, registered redirect URIs included.
const MAX_WIRE_DESCRIPTION: usize = 2_000;

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_description_keeps_to_the_rfc_6749_character_set() {
        let err = OAuthError::invalid_request("bad \"value\" \\ é\n");
        assert_eq!(err.wire_description(), "bad 'value' / ??");
        let cited = OAuthError::invalid_request("see OAuth 2.1 §4.1.1");
        assert_eq!(cited.wire_description(), "see OAuth 2.1 section 4.1.1");
    }

    #[test]
    fn wire_description_does_not_echo_without_bound() {
        let long = "x".repeat(MAX_WIRE_DESCRIPTION + 500);
        let wire = OAuthError::invalid_client(format!("no client '{long}'")).wire_description();
        assert!(wire.starts_with("no client 'xxx"), "{wire}");
        assert!(
            wire.ends_with("x [... 512 more characters not shown]"),
            "{}",
            &wire[MAX_WIRE_DESCRIPTION - 10..]
        );
        let short = "y".repeat(MAX_WIRE_DESCRIPTION);
        assert_eq!(
            OAuthError::invalid_client(short.clone()).wire_description(),
            short
        );
    }

    #[test]
    fn codes_parse_from_their_wire_names() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::parse("Invalid_Grant"), None);
    }

    #[test]
    fn codes_are_the_registered_strings() {
        assert_eq!(ErrorCode::InvalidTarget.to_string(), "invalid_target");
        assert_eq!(
            ErrorCode::InvalidClientMetadata.to_string(),
            "invalid_client_metadata"
        );
    }
}
