//! What `tollgate check` found: one result per check, each with its status, the spec it
//! rests on and the evidence. The command line renders it (text, JSON, JUnit); its
//! `Display` is a plain listing for test failure messages.

use super::catalogue::{CheckId, Family, Profile};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub check: CheckId,
    pub status: Status,
    /// Whether the profile requires it: only a required check that fails fails the run.
    pub required: bool,
    pub spec: String,
    /// The evidence: what was sent and what came back, or why the check was skipped.
    pub detail: String,
}

impl CheckResult {
    pub fn id(&self) -> &'static str {
        self.check.id()
    }

    pub fn title(&self) -> &'static str {
        self.check.title()
    }

    pub fn family(&self) -> Family {
        self.check.family()
    }
}

/// Everything one run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The MCP server's URL, as given.
    pub target: String,
    pub profile: Profile,
    /// The issuer tokens were minted as.
    pub issuer: String,
    /// How the checker spoke to the server: the protocol version and how it was
    /// negotiated, or why no handshake succeeded.
    pub protocol: String,
    /// In report order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether every required check passed (skipped ones do not count against it).
    pub fn passed(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| c.status == Status::Fail && c.required)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        )
    }

    /// The ids of the failed checks, required or not, in report order.
    pub fn failed_ids(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(CheckResult::id)
            .collect()
    }

    /// The result of the check with this id (`CH-n`).
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id() == id)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tollgate check {} (profile {})",
            self.target, self.profile
        )?;
        writeln!(f, "protocol: {}", self.protocol)?;
        for check in &self.checks {
            let status = match (check.status, check.required) {
                (Status::Fail, false) => "FAIL (recommended)".to_owned(),
                (status, _) => status.as_str().to_uppercase(),
            };
            writeln!(f, "{status} {} {}", check.id(), check.title())?;
            writeln!(f, "    {}", check.detail)?;
        }
        write!(f, "{}", self.summary())
    }
}

/// Text from a server, made safe to print and to embed: control characters (which could
/// drive a terminal) become `�`, and it is cut at `max` characters.
pub fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_carry_terminal_escapes_and_is_bounded() {
        assert_eq!(
            sanitize("ok\u{1b}[31mred\n", 100),
            "ok\u{fffd}[31mred\u{fffd}"
        );
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(sanitize("abc", 3), "abc");
    }

    #[test]
    fn only_a_required_failure_fails_the_run() {
        let result = |check, status, required| CheckResult {
            check,
            status,
            required,
            spec: String::new(),
            detail: String::new(),
        };
        let mut report = Report {
            target: "http://127.0.0.1:1/mcp".to_owned(),
            profile: Profile::LATEST,
            issuer: "http://127.0.0.1:2".to_owned(),
            protocol: "2026-07-28".to_owned(),
            checks: vec![
                result(CheckId::Unauthenticated, Status::Pass, true),
                result(CheckId::NoErrorWithoutToken, Status::Fail, false),
                result(CheckId::Revoked, Status::Skip, true),
            ],
        };
        assert!(report.passed());
        assert_eq!(report.summary(), "1 passed, 1 failed, 1 skipped");
        assert_eq!(report.failed_ids(), ["CH-4"]);
        report.checks[0].status = Status::Fail;
        assert!(!report.passed());
    }
}
