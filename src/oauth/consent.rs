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
