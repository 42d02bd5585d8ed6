//! The report for people: the checks by family, each with its status, evidence and spec,
//! then `N passed, N failed, N skipped`. Colour only when asked (a terminal without
//! `NO_COLOR`); the evidence was sanitised by the checker, so a server's text cannot drive
//! the terminal.

use crate::services::check::{Report, Status};
use std::fmt::Write;

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

pub(super) fn render(report: &Report, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(BOLD, &format!("tollgate check {}", report.target))
    );
    let _ = writeln!(out, "  profile   MCP {}", report.profile);
    let _ = writeln!(out, "  protocol  {}", report.protocol);
    let _ = writeln!(out, "  issuer    {}", report.issuer);
    let mut family = None;
    for check in &report.checks {
        if family != Some(check.family()) {
            family = Some(check.family());
            let _ = writeln!(out, "\n{}", paint(BOLD, check.family().title()));
        }
        let (label, code) = match (check.status, check.required) {
            (Status::Pass, _) => ("PASS", GREEN),
            (Status::Fail, true) => ("FAIL", RED),
            (Status::Fail, false) => ("FAIL", YELLOW),
            (Status::Skip, _) => ("SKIP", DIM),
        };
        let note = if check.status == Status::Fail && !check.required {
            " (recommended, not required)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {}  {:<6} {}{note}",
            paint(code, label),
            check.id(),
            check.title()
        );
        let _ = writeln!(out, "               {}", check.detail);
        let _ = writeln!(
            out,
            "               {}",
            paint(DIM, &format!("spec: {}", check.spec))
        );
    }
    let summary = report.summary();
    let _ = writeln!(
        out,
        "\n{}",
        paint(if report.passed() { GREEN } else { RED }, &summary)
    );
    out
}
