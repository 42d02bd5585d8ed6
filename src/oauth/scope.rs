//! Scope values (RFC 6749 §3.3): a space-delimited set of case-sensitive tokens, each a
//! path of colon-separated segments (issue 17, checklist SCP-1).
//!
//! A scope covers itself and every scope below it: `mcp:tools` covers `mcp:tools:weather`
//! and `mcp:tools:weather:read`. A last segment `*` stands for exactly one segment, any one:
//! `mcp:exec:workflows:*` covers `mcp:exec:workflows:deploy`, and so, like every scope,
//! what lies below that one (`mcp:exec:workflows:deploy:prod`); it does not cover
//! `mcp:exec:workflows` itself. Covering is transitive on purpose: a grant of
//! `mcp:exec:workflows:deploy` already lets its holder narrow to anything below it, so a
//! wildcard that stopped one level down would promise a limit no token could keep.
//! Allowances (a client's, a resource's, a user's, a rule's) are compared by covering; what
//! a token carries is always the scope as requested.

use super::error::OAuthError;
use super::rules;
use std::fmt;

/// What separates the segments of a scope path.
pub const SEPARATOR: char = ':';
/// A last segment standing for any one segment.
pub const WILDCARD: &str = "*";

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
            if let Err(why) = check_path(token) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope token '{token}' {why} (Tollgate reads scopes as colon-separated \
                     paths such as 'mcp:tools:weather', with '*' only as a whole last segment)"
                ))
                .rule(&rules::SCP_1));
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

    /// The tokens of `self` that no token of `allowance` covers.
    pub fn not_covered_by<'a>(
        &'a self,
        allowance: &'a Scope,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.iter()
            .filter(move |t| !allowance.iter().any(|a| covers(a, t)))
    }

    /// Whether every token of `self` is covered by a token of `allowance`: `self` is the same
    /// or narrower.
    pub fn is_covered_by(&self, allowance: &Scope) -> bool {
        self.not_covered_by(allowance).next().is_none()
    }

    /// The tokens of `self` that `allowance` covers, as they are in `self`.
    pub fn covered_by(&self, allowance: &Scope) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|t| allowance.iter().any(|a| covers(a, t)))
                .cloned()
                .collect(),
        )
    }

    /// A scope of these (validated) tokens.
    pub fn of<S: AsRef<str>>(tokens: &[S]) -> Scope {
        let mut scope = Scope::default();
        for token in tokens {
            if !scope.contains(token.as_ref()) {
                scope.0.push(token.as_ref().to_owned());
            }
        }
        scope
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

/// Why a scope token is not a well-formed path (checklist SCP-1), if it is not: a segment is
/// empty (`mcp::tools`, `:mcp`, `mcp:`), or `*` is not a whole last segment (`mcp:*:read`,
/// `mcp:tool*`). The characters themselves are RFC 6749 §3.3's, checked by `Scope::parse`.
pub fn check_path(token: &str) -> Result<(), String> {
    let segments: Vec<&str> = token.split(SEPARATOR).collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            return Err(format!("has an empty segment (segment {})", i + 1));
        }
        if *segment == WILDCARD && i != last {
            return Err(format!(
                "has '*' as segment {} of {}; a wildcard may only be the last segment",
                i + 1,
                last + 1
            ));
        }
        if segment.contains(WILDCARD) && *segment != WILDCARD {
            return Err(format!(
                "has '*' inside the segment '{segment}'; a wildcard is a whole segment"
            ));
        }
    }
    Ok(())
}

/// Whether `allowance` covers `requested`: `requested` is `allowance` or lies below it,
/// where a last `*` in `allowance` stands for any one segment (see the module comment).
/// Both are single, well-formed tokens.
pub fn covers(allowance: &str, requested: &str) -> bool {
    let mut asked = requested.split(SEPARATOR);
    let mut segments = allowance.split(SEPARATOR).peekable();
    while let Some(segment) = segments.next() {
        let Some(asked) = asked.next() else {
            // The request is broader than the allowance.
            return false;
        };
        if segment == WILDCARD && segments.peek().is_none() {
            return true;
        }
        if segment != asked {
            return false;
        }
    }
    true
}

/// Refuses scopes that the client's allowed list (empty: any) does not cover; the server's
/// own scopes (`offline_access`, `openid`) are always allowed.
pub fn check_client_allows(scope: &Scope, allowed: &[String]) -> Result<(), OAuthError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let refused: Vec<&str> = scope
        .iter()
        .filter(|t| !SERVER_SCOPES.contains(t) && !allowed.iter().any(|a| covers(a, t)))
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

/// Refuses scopes beyond a user's policy (`None`: no limit; checklist SCP-2); the server's
/// own scopes are always allowed. The refusal is `access_denied` (RFC 6749 §4.1.2.1: "the
/// resource owner or authorization server denied the request"), not a narrower grant: an MCP
/// client asks for a scope because a tool answered 403 `insufficient_scope` for it (MCP
/// Authorization, Step-Up Authorization Flow), and a grant without it would get the same 403
/// again, the client stepping up in a loop until its retry limit with nothing to tell the
/// user. The description names exactly the unmet part.
pub fn check_user_allows(
    subject: &str,
    scope: &Scope,
    policy: Option<&[String]>,
) -> Result<(), OAuthError> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let refused: Vec<&str> = scope
        .iter()
        .filter(|t| !SERVER_SCOPES.contains(t) && !policy.iter().any(|a| covers(a, t)))
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let allowed = if policy.is_empty() {
        "no scope".to_owned()
    } else {
        policy.join(" ")
    };
    Err(OAuthError::new(
        super::error::ErrorCode::AccessDenied,
        format!(
            "user '{subject}' may not be granted {}; their scope policy allows {allowed}",
            refused.join(" ")
        ),
    )
    .rule(&rules::SCP_2)
    .compared(policy.join(" "), scope.to_string())
    .hint(Some(format!(
        "ask without {}, approve as another user, or widen the scopes of user '{subject}' in \
         the server's [[users]]",
        refused.join(" ")
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
    fn narrowing_and_offline_access() {
        let granted = Scope::parse(Some("mcp:tools offline_access")).unwrap();
        let asked = Scope::parse(Some("mcp:tools")).unwrap();
        assert!(asked.is_covered_by(&granted));
        assert!(!granted.is_covered_by(&asked));
        assert_eq!(granted.for_access_token().to_string(), "mcp:tools");
    }

    #[test]
    fn scp_1_a_scope_covers_itself_and_what_lies_below_it() {
        assert!(covers("mcp:tools", "mcp:tools"));
        assert!(covers("mcp:tools", "mcp:tools:weather"));
        assert!(covers("mcp:tools", "mcp:tools:weather:read"));
        assert!(covers("mcp", "mcp:tools"));
        // Not upwards, not sideways, and segments compare whole.
        assert!(!covers("mcp:tools:weather", "mcp:tools"));
        assert!(!covers("mcp:tools", "mcp:resources"));
        assert!(!covers("mcp:tools", "mcp:toolsmith"));
        assert!(!covers("mcp:tool", "mcp:tools"));
        // Case-sensitive, as RFC 6749 §3.3 says.
        assert!(!covers("mcp:tools", "MCP:tools"));
    }

    #[test]
    fn scp_1_a_wildcard_is_one_segment_at_each_level() {
        // At the top.
        assert!(covers("*", "mcp"));
        assert!(covers("*", "mcp:tools:weather"));
        // In the middle of a tree.
        assert!(covers("mcp:*", "mcp:tools"));
        assert!(!covers("mcp:*", "mcp"));
        assert!(!covers("mcp:*", "other:tools"));
        // Deep.
        let w = "mcp:exec:workflows:*";
        assert!(covers(w, "mcp:exec:workflows:deploy"));
        assert!(covers(w, "mcp:exec:workflows:*"));
        // Deeper levels are covered through the one segment the wildcard stands for.
        assert!(covers(w, "mcp:exec:workflows:deploy:prod"));
        // Never the node itself, nor anything above or beside it.
        assert!(!covers(w, "mcp:exec:workflows"));
        assert!(!covers(w, "mcp:exec"));
        assert!(!covers(w, "mcp:exec:jobs:deploy"));
        // A requested wildcard is a scope like any other: covered by its parent, not by
        // one of the children it stands for.
        assert!(covers("mcp:exec:workflows", w));
        assert!(!covers("mcp:exec:workflows:deploy", w));
    }

    #[test]
    fn scp_1_malformed_paths_are_refused_with_the_rule() {
        for bad in [
            "mcp::tools",
            ":mcp",
            "mcp:",
            ":",
            "mcp:*:read",
            "*:tools",
            "mcp:tool*",
            "mcp:**",
        ] {
            let err = Scope::parse(Some(bad)).unwrap_err();
            assert_eq!(err.rule_id(), Some("SCP-1"), "{bad}");
            assert!(err.description.contains(bad), "{bad}: {}", err.description);
        }
        for good in [
            "*",
            "mcp:*",
            "mcp:exec:workflows:*",
            "openid",
            "a-b_c.d:e~f",
        ] {
            assert!(Scope::parse(Some(good)).is_ok(), "{good}");
        }
        assert!(
            check_path("mcp:*:read")
                .unwrap_err()
                .contains("segment 2 of 3")
        );
    }

    #[test]
    fn narrowing_keeps_the_requested_spelling() {
        let allowance = Scope::parse(Some("mcp:tools mcp:exec:workflows:*")).unwrap();
        let asked = Scope::parse(Some(
            "mcp:tools:weather mcp:exec:workflows:deploy mcp:admin",
        ))
        .unwrap();
        assert_eq!(
            asked.covered_by(&allowance).to_string(),
            "mcp:tools:weather mcp:exec:workflows:deploy"
        );
        assert_eq!(
            asked.not_covered_by(&allowance).collect::<Vec<_>>(),
            ["mcp:admin"]
        );
        assert!(!asked.is_covered_by(&allowance));
        let broad = Scope::parse(Some("mcp:tools")).unwrap();
        assert!(broad.is_covered_by(&allowance));
        assert_eq!(broad.covered_by(&allowance), broad);
        assert!(!Scope::parse(Some("mcp")).unwrap().is_covered_by(&allowance));
    }

    #[test]
    fn scp_2_a_users_policy_covers_or_denies() {
        let alice = vec!["mcp:tools:*".to_owned()];
        let ok = Scope::parse(Some("mcp:tools:weather offline_access openid")).unwrap();
        assert_eq!(check_user_allows("alice", &ok, Some(&alice)), Ok(()));
        assert_eq!(check_user_allows("dev", &ok, None), Ok(()));
        let err = check_user_allows(
            "alice",
            &Scope::parse(Some("mcp:tools:weather mcp:tools mcp:admin")).unwrap(),
            Some(&alice),
        )
        .unwrap_err();
        assert_eq!(err.code, super::super::error::ErrorCode::AccessDenied);
        assert_eq!(err.rule_id(), Some("SCP-2"));
        assert_eq!(
            err.description,
            "user 'alice' may not be granted mcp:tools mcp:admin; their scope policy allows \
             mcp:tools:*"
        );
        let nothing = check_user_allows("eve", &ok, Some(&[])).unwrap_err();
        assert!(
            nothing.description.ends_with("allows no scope"),
            "{nothing}"
        );
    }

    #[test]
    fn a_client_allowance_covers_narrower_scopes() {
        let allowed = vec!["mcp:tools".to_owned(), "mcp:exec:*".to_owned()];
        let ok = Scope::parse(Some("mcp:tools:weather mcp:exec:run openid")).unwrap();
        assert_eq!(check_client_allows(&ok, &allowed), Ok(()));
        let err = check_client_allows(&Scope::parse(Some("mcp mcp:exec")).unwrap(), &allowed)
            .unwrap_err();
        assert!(
            err.description.contains("mcp mcp:exec;"),
            "{}",
            err.description
        );
        assert_eq!(err.rule_id(), Some("AZ-17"));
    }
}
