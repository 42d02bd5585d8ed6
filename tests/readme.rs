//! The documentation's links resolve inside the repository (issue 19): every relative link of
//! README.md and the other guides names a file or directory of the repository (never a path
//! that leaves it), and every `#anchor`, alone or after a Markdown file, is the GitHub anchor
//! of one of that file's headings. Links to other sites (`https:`, `mailto:`) are not
//! fetched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

const DOCUMENTS: [&str; 5] = [
    "README.md",
    "ARCHITECTURE.md",
    "e2e/README.md",
    "examples/mcp-server/README.md",
    "ci/README.md",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The text of a Markdown document outside fenced code blocks, line by line.
fn prose(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some(marker) if trimmed.starts_with(marker) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") || trimmed.starts_with("~~~") => {
                fence = Some(&trimmed[..3]);
            }
            None => lines.push(line),
        }
    }
    lines
}

/// A line without its inline code spans.
fn without_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
            out.push(' ');
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// GitHub's anchor of a heading: lower case, punctuation dropped (but `-` and `_`), spaces
/// as hyphens; repeated headings get `-1`, `-2`.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for line in prose(text) {
        let Some(title) = line
            .strip_prefix('#')
            .map(|rest| rest.trim_start_matches('#'))
            .filter(|rest| rest.starts_with(' '))
        else {
            continue;
        };
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut candidate = slug.clone();
        let mut n = 0;
        while seen.contains(&candidate) {
            n += 1;
            candidate = format!("{slug}-{n}");
        }
        seen.insert(candidate);
    }
    seen
}

/// The targets of the inline links `[text](target)` and images of a document.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or_default();
            found.push(target.to_owned());
            rest = &after[end..];
        }
    }
    found
}

/// What is wrong with each link of `document`.
fn broken_links(document: &str) -> Vec<String> {
    let root = root();
    let path = root.join(document);
    let text = std::fs::read_to_string(&path).unwrap();
    let own = anchors(&text);
    let mut problems = Vec::new();
    for target in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = match target.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor)),
            None => (target.as_str(), None),
        };
        let anchors_there = if file.is_empty() {
            own.clone()
        } else {
            let dir = path.parent().unwrap();
            let resolved = normalize(&dir.join(file));
            if !resolved.starts_with(&root) {
                problems.push(format!("{document}: {target} leaves the repository"));
                continue;
            }
            if !resolved.exists() {
                problems.push(format!("{document}: {target} does not exist"));
                continue;
            }
            if anchor.is_none() || !file.ends_with(".md") {
                continue;
            }
            anchors(&std::fs::read_to_string(&resolved).unwrap())
        };
        if let Some(anchor) = anchor {
            if !anchors_there.contains(anchor) {
                problems.push(format!(
                    "{document}: {target}: no heading has the anchor #{anchor}"
                ));
            }
        }
    }
    problems
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_link_of_the_guides_resolves_inside_the_repository() {
    let problems: Vec<String> = DOCUMENTS.iter().flat_map(|d| broken_links(d)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_finds_what_it_should() {
    let text = "# Quick start\n## Check your MCP server: `tollgate check`\n## A\n## A\n\
                ```sh\n# not a heading\n```\n";
    let found = anchors(text);
    for anchor in [
        "quick-start",
        "check-your-mcp-server-tollgate-check",
        "a",
        "a-1",
    ] {
        assert!(found.contains(anchor), "{anchor} in {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
    assert_eq!(
        links("see [x](a.md#b) and `[y](not-a-link)` and ![i](img.png)\n```\n[z](code)\n```"),
        ["a.md#b", "img.png"]
    );
    let outside = normalize(&root().join("../elsewhere.md"));
    assert!(!outside.starts_with(root()), "{}", outside.display());
}
