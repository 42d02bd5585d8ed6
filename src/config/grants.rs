//! Settings of the grants beyond the browser (issue 16): the device authorization grant
//! (RFC 8628) and the two roles of Enterprise-Managed Authorization (ID-JAG). The token
//! exchange policy is a list of `crate::oauth::exchange::ExchangeRule` in `Config`.

use super::duration;
use crate::oauth::id_jag::{IssueRule, TrustedIssuer};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The device authorization grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceConfig {
    /// The polling interval a device is given (RFC 8628 §3.2 `interval`); at least 1 s.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// How long a device code and its user code live (`expires_in`).
    #[serde(with = "duration")]
    pub lifetime: Duration,
    /// Wrong user codes accepted per client IP address per minute on the verification page
    /// before further attempts are refused (RFC 8628 §5.1; 0: no limit).
    pub user_code_failures_per_minute: u32,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            interval: Duration::from_secs(5),
            lifetime: Duration::from_secs(10 * 60),
            user_code_failures_per_minute: 5,
        }
    }
}

impl DeviceConfig {
    /// The interval in whole seconds, never below 1 (the grant works in seconds).
    pub fn interval_secs(&self) -> i64 {
        i64::try_from(self.interval.as_secs().max(1)).unwrap_or(i64::MAX)
    }

    pub fn lifetime_secs(&self) -> i64 {
        i64::try_from(self.lifetime.as_secs().max(1)).unwrap_or(i64::MAX)
    }
}

/// Enterprise-Managed Authorization: which ID-JAGs this server issues as an IdP, and whose
/// it accepts as an MCP server's authorization server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdJagConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issue: Vec<IssueRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<TrustedIssuer>,
}
