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
