//! The report as JUnit XML, the format CI systems read for test reports: one test suite,
//! one test case per check (`tollgate.check.<family>`), a `<failure>` for a failed check
//! (`type` says whether it was required) and `<skipped>` with the reason for a skipped one.
//! Every text is escaped, and characters XML 1.0 cannot carry are dropped.

use crate::services::check::{Family, Report, Status};
use std::fmt::Write;

pub(super) fn render(report: &Report) -> String {
    let tests = report.checks.len();
    let failures = report.count(Status::Fail);
    let skipped = report.count(Status::Skip);
    let name = format!("tollgate check {} (MCP {})", report.target, report.profile);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        r#"<testsuites name="tollgate check" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#
    );
    let _ = writeln!(
        xml,
        r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}">"#,
        escape(&name)
    );
    xml.push_str("    <properties>\n");
    for (key, value) in [
        ("target", report.target.as_str()),
        ("profile", report.profile.as_str()),
        ("protocol", report.protocol.as_str()),
        ("issuer", report.issuer.as_str()),
    ] {
        let _ = writeln!(
            xml,
            r#"      <property name="{key}" value="{}"/>"#,
            escape(value)
        );
    }
    xml.push_str("    </properties>\n");
    for check in &report.checks {
        let _ = write!(
            xml,
            r#"    <testcase classname="tollgate.check.{}" name="{}">"#,
            family_slug(check.family()),
            escape(&format!("{} {}", check.id(), check.title()))
        );
        let text = escape(&format!("{}\nspec: {}", check.detail, check.spec));
        match check.status {
            Status::Pass => {
                let _ = write!(xml, "\n      <system-out>{text}</system-out>\n    ");
            }
            Status::Fail => {
                let kind = if check.required {
                    "required"
                } else {
                    "recommended"
                };
                let _ = write!(
                    xml,
                    "\n      <failure type=\"{kind}\" message=\"{}\">{text}</failure>\n    ",
                    escape(&check.detail)
                );
            }
            Status::Skip => {
                let _ = write!(
                    xml,
                    "\n      <skipped message=\"{}\"/>\n    ",
                    escape(&check.detail)
                );
            }
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn family_slug(family: Family) -> &'static str {
    match family {
        Family::Challenge => "challenge",
        Family::Metadata => "metadata",
        Family::Discovery => "discovery",
        Family::Access => "access",
        Family::Refusals => "refusals",
        Family::Scope => "scope",
        Family::Legacy => "legacy",
    }
}

/// Escapes for both text and attribute values, and drops what XML 1.0 §2.2 does not
/// allow (control characters other than tab, newline and carriage return).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_special_and_forbidden_characters() {
        assert_eq!(
            escape("a<b>&\"c\"'d'\u{1b}\u{0}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\n"
        );
    }
}
