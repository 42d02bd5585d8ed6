//! How the authorization endpoint gets the user's decision: the consent modes, and the
//! user who is always there so that a fresh server can complete a flow.

use super::resource::{Resource, scope_info};
use super::scope::Scope;
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

/// Which of the requested scopes are new on a step-up: those no scope of an earlier grant
/// of the client covers. With no earlier grant nothing is marked (a first request is not a
/// step-up).
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
        .filter(|scope| !held.iter().any(|held| super::scope::covers(held, scope)))
        .collect()
}

/// What the user approved when the consent page let them untick optional scopes (checklist
/// SCP-3): every requested scope that is not optional, and the optional ones still ticked
/// (`kept`, the checkboxes' values; an unticked box sends nothing). Names that were not
/// requested are ignored, so the form can only narrow. Returns the approved scope and the
/// scopes left out, for the event log.
pub fn approved_scope(
    requested: &Scope,
    resources: &[String],
    configured: &[Resource],
    kept: &[&str],
) -> (Scope, Vec<String>) {
    let mut approved = Vec::new();
    let mut left_out = Vec::new();
    for token in requested.iter() {
        if scope_info(token, resources, configured).optional && !kept.contains(&token) {
            left_out.push(token.to_owned());
        } else {
            approved.push(token);
        }
    }
    (Scope::of(&approved), left_out)
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
        assert!(
            new_scopes(["mcp:tools:weather"], &before).is_empty(),
            "covered by mcp:tools"
        );
    }

    use crate::oauth::resource::DeclaredScope;

    #[test]
    fn scp_3_only_optional_scopes_can_be_left_out() {
        let resource = Resource {
            scopes: vec![
                DeclaredScope::named("mcp:tools"),
                DeclaredScope {
                    optional: true,
                    ..DeclaredScope::named("mcp:tools:weather")
                },
                DeclaredScope {
                    optional: true,
                    ..DeclaredScope::named("mcp:files")
                },
            ],
            ..Resource::with_scopes("https://a/mcp", &[])
        };
        let aud = vec!["https://a/mcp".to_owned()];
        let requested = Scope::from_stored("mcp:tools mcp:tools:weather:read mcp:files openid");
        let configured = std::slice::from_ref(&resource);
        // Nothing ticked: the optional ones go, the rest stays; a name never requested, or
        // a required one "unticked", changes nothing.
        let (approved, left_out) = approved_scope(&requested, &aud, configured, &["mcp:admin"]);
        assert_eq!(approved.to_string(), "mcp:tools openid");
        assert_eq!(left_out, ["mcp:tools:weather:read", "mcp:files"]);
        let (approved, left_out) = approved_scope(&requested, &aud, configured, &["mcp:files"]);
        assert_eq!(approved.to_string(), "mcp:tools mcp:files openid");
        assert_eq!(left_out, ["mcp:tools:weather:read"]);
    }
}
