//! The report as JSON: `{"target", "profile", "checks": [{"id", "title", "status",
//! "spec", "detail"}]}` as issue 13 specifies, plus what a CI job may want besides: each
//! check's `required` and `slug`, the issuer, the protocol used and the summary.

use crate::services::check::{Report, Status};
use serde_json::json;

pub(super) fn render(report: &Report) -> String {
    let checks: Vec<_> = report
        .checks
        .iter()
        .map(|check| {
            json!({
                "id": check.id(),
                "title": check.title(),
                "status": check.status.as_str(),
                "spec": check.spec,
                "detail": check.detail,
                "required": check.required,
                "slug": check.check.slug(),
            })
        })
        .collect();
    let document = json!({
        "target": report.target,
        "profile": report.profile.as_str(),
        "issuer": report.issuer,
        "protocol": report.protocol,
        "passed": report.passed(),
        "summary": {
            "passed": report.count(Status::Pass),
            "failed": report.count(Status::Fail),
            "skipped": report.count(Status::Skip),
        },
        "checks": checks,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
