//! How the authorization endpoint gets the user's decision: the consent modes, and the
//! user who is always there so that a fresh server can complete a flow.

use serde::{Deserialize, Serialize};

/// The subject of the user who is always there.
pub const DEFAULT_USER: &str = "dev";

/// How the authorization endpoint gets a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentMode {
    /// Show the consent page (the default).
    #[default]
    Prompt,
    /// Approve at once, as the configured user: headless flows for CI.
    Auto,
    /// Deny at once: for testing a client's error path.
    Deny,
}

/// The user the consent page selects when it opens: the `login_hint` when it names a user,
/// else the client's own `user`, else the server's `[consent] user`, else `dev`. Unlike
/// automatic consent nothing is refused here: a name that is not a user is skipped, since
/// the person at the page chooses anyway.
pub fn preselected_user<'a>(
    login_hint: Option<&'a str>,
    client_user: Option<&'a str>,
    server_user: Option<&'a str>,
    is_user: impl Fn(&str) -> bool,
) -> &'a str {
    [login_hint, client_user, server_user]
        .into_iter()
        .flatten()
        .find(|subject| is_user(subject))
        .unwrap_or(DEFAULT_USER)
}

/// Which of the requested scopes are new on a step-up: those no earlier grant of the client
/// carried. With no earlier grant nothing is marked (a first request is not a step-up).
pub fn new_scopes<'a>(
    requested: impl IntoIterator<Item = &'a str>,
    granted_before: &[String],
) -> Vec<&'a str> {
    if granted_before.is_empty() {
        return Vec::new();
    }
    let held: std::collections::BTreeSet<&str> = granted_before
        .iter()
        .flat_map(|scope| scope.split_ascii_whitespace())
        .collect();
    requested
        .into_iter()
        .filter(|scope| !held.contains(scope))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_preselects_the_hint_then_the_client_user_then_the_server_user() {
        let users = ["dev", "alice", "bob"];
        let is_user = |s: &str| users.contains(&s);
        assert_eq!(
            preselected_user(Some("bob"), Some("alice"), None, is_user),
            "bob"
        );
        assert_eq!(
            preselected_user(Some("nobody"), Some("alice"), Some("bob"), is_user),
            "alice"
        );
        assert_eq!(preselected_user(None, None, Some("bob"), is_user), "bob");
        assert_eq!(preselected_user(None, None, Some("ghost"), is_user), "dev");
        assert_eq!(preselected_user(None, None, None, is_user), "dev");
    }

    #[test]
    fn only_a_step_up_marks_scopes_as_new() {
        let requested = ["mcp:tools", "mcp:admin", "openid"];
        assert!(new_scopes(requested, &[]).is_empty(), "a first request");
        let before = ["mcp:tools openid".to_owned(), "other".to_owned()];
        assert_eq!(new_scopes(requested, &before), ["mcp:admin"]);
        assert!(new_scopes(["mcp:tools"], &before).is_empty());
    }
}
