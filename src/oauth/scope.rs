//! Scope values (RFC 6749 §3.3): a space-delimited set of case-sensitive tokens.

use super::error::OAuthError;
use std::fmt;

/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The scope that asks for an ID token (OpenID Connect Core §3.1.2.1).
pub const OPENID: &str = "openid";
/// Scopes that concern the authorization server, not any MCP server: every client may ask
/// for them, no resource has to offer them, and they never go into an access token.
pub const SERVER_SCOPES: [&str; 2] = [OFFLINE_ACCESS, OPENID];

/// An ordered set of scope tokens, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a `scope` parameter; `None` is the empty scope.
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        let mut tokens: Vec<String> = Vec::new();
        for token in value
            .unwrap_or_default()
            .split(' ')
            .filter(|t| !t.is_empty())
        {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if let Some(bad) = token
                .chars()
                .find(|c| !matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E'))
            {
                // Named by code point: error descriptions cannot carry '"' or '\' (RFC 6749
                // §5.2), the two characters most likely to be the offending ones.
                return Err(OAuthError::invalid_scope(format!(
                    "scope token '{token}' contains the character U+{:04X}, which RFC 6749 \
                     §3.3 does not allow (scope tokens are printable ASCII, U+0021 to U+007E, \
                     except the double quote U+0022 and the backslash U+005C, separated by \
                     single spaces)",
                    u32::from(bad)
                )));
            }
            if !tokens.iter().any(|t| t == token) {
                tokens.push(token.to_owned());
            }
        }
        Ok(Scope(tokens))
    }

    /// Wraps a scope string that was validated before it was stored.
    pub fn from_stored(value: &str) -> Self {
        Scope(
            value
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens of `self` that `other` lacks.
    pub fn missing_from<'a>(&'a self, other: &'a Scope) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |t| !other.contains(t))
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.missing_from(other).next().is_none()
    }

    /// The scope without one token.
    pub fn without(&self, token: &str) -> Scope {
        Scope(self.0.iter().filter(|t| *t != token).cloned().collect())
    }

    /// The scope as it goes into an access token: without the server's own scopes.
    pub fn for_access_token(&self) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|t| !SERVER_SCOPES.contains(&t.as_str()))
                .cloned()
                .collect(),
        )
    }
}

/// Refuses scopes outside a client's allowed list (empty: any); the server's own scopes
/// (`offline_access`, `openid`) are always allowed.
pub fn check_client_allows(scope: &Scope, allowed: &[String]) -> Result<(), OAuthError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let refused: Vec<&str> = scope
        .iter()
        .filter(|t| !SERVER_SCOPES.contains(t) && !allowed.iter().any(|a| a == t))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(OAuthError::invalid_scope(format!(
        "this client may not ask for {}; it is allowed: {}",
        refused.join(" "),
        allowed.join(" ")
    ))
    .rule(&super::rules::AZ_17)
    .compared(allowed.join(" "), scope.to_string())
    .hint(Some(format!(
        "this client's declaration limits its scopes to {}; ask for those, or allow more in \
         its scopes setting",
        allowed.join(" ")
    ))))
}

/// `openid` and `offline_access` are about a user's session; a grant without a user and
/// without a refresh token (client credentials, RFC 6749 §4.4.3) cannot grant them, and
/// granting them silently would tell the client it got an ID token or offline access it
/// does not have.
pub fn refuse_session_scopes(scope: &Scope) -> Result<(), OAuthError> {
    if scope.contains(OPENID) {
        return Err(OAuthError::invalid_scope(
            "'openid' asks for an ID token about a signed-in user; client_credentials has no \
             user, so it cannot be granted (use the authorization code flow)",
        ));
    }
    if scope.contains(OFFLINE_ACCESS) {
        return Err(OAuthError::invalid_scope(
            "'offline_access' asks for a refresh token; client_credentials issues none \
             (RFC 6749 §4.4.3): request a new access token when it expires",
        ));
    }
    Ok(())
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// What the scopes this server itself understands let a client do, for the consent page.
pub fn server_scope_description(scope: &str) -> Option<&'static str> {
    match scope {
        OPENID => Some("Learn who you are: an ID token with your user id (OpenID Connect)"),
        OFFLINE_ACCESS => Some("Stay connected after you leave: a refresh token"),
        "profile" => Some("See your name"),
        "email" => Some("See your email address"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deduplicates_and_keeps_order() {
        let scope = Scope::parse(Some("b a  b")).unwrap();
        assert_eq!(scope.to_string(), "b a");
    }

    #[test]
    fn rejects_characters_outside_the_rfc_grammar() {
        assert!(Scope::parse(Some("good \"bad\"")).is_err());
        assert!(Scope::parse(Some("caf\u{e9}")).is_err());
    }

    #[test]
    fn the_offending_character_survives_the_wire() {
        // A backslash cannot appear in an error description, so it is named by its code point.
        let err = Scope::parse(Some("a\\b")).unwrap_err();
        let wire = err.wire_description();
        assert!(wire.contains("the character U+005C,"), "{wire}");
        assert!(wire.contains("the backslash U+005C"), "{wire}");
    }

    #[test]
    fn a_client_allow_list_limits_scopes() {
        let allowed = vec!["mcp:tools".to_owned()];
        let ok = Scope::parse(Some("mcp:tools offline_access")).unwrap();
        assert_eq!(check_client_allows(&ok, &allowed), Ok(()));
        let bad = Scope::parse(Some("mcp:tools mcp:admin")).unwrap();
        let err = check_client_allows(&bad, &allowed).unwrap_err();
        assert!(err.description.contains("mcp:admin"));
        assert_eq!(check_client_allows(&bad, &[]), Ok(()));
    }

    #[test]
    fn subset_and_offline_access() {
        let granted = Scope::parse(Some("mcp:tools offline_access")).unwrap();
        let asked = Scope::parse(Some("mcp:tools")).unwrap();
        assert!(asked.is_subset_of(&granted));
        assert!(!granted.is_subset_of(&asked));
        assert_eq!(granted.for_access_token().to_string(), "mcp:tools");
    }
}
