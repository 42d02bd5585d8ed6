//! Keeps the house's one direction (ARCHITECTURE.md): reads every file under `src/` and
//! fails on an import that reaches up a layer.
//!
//! ```text
//! cli, testing ──► server ──► http ──► state ──► services ──► oauth
//!                                                   │           ▲
//!                                                   └─► store, config, keys (each ─► oauth)
//! ```
//!
//! `oauth` (the protocol rules and domain types) imports nothing but the leaf utilities;
//! `store`, `config` and `keys` import the domain and the leaves, never each other and never
//! anything above; `services` never import `state`, `http`, `server` or `cli`; `http` never
//! imports `server` or `cli`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Modules every layer may use: they depend on nothing of the crate.
const LEAVES: [&str; 4] = ["allocator", "clock", "secret", "telemetry"];

/// What each top-level module may import besides the leaves and itself.
fn allowed(module: &str) -> Option<&'static [&'static str]> {
    Some(match module {
        "allocator" | "clock" | "secret" | "telemetry" => &[],
        "oauth" => &[],
        "store" | "config" | "keys" => &["oauth"],
        "services" => &["oauth", "store", "config", "keys"],
        "state" => &["services", "oauth", "store", "config", "keys"],
        "http" => &["state", "services", "oauth", "store", "config", "keys"],
        "server" => &[
            "http", "state", "services", "oauth", "store", "config", "keys",
        ],
        "cli" => &[
            "server", "http", "state", "services", "oauth", "store", "config", "keys",
        ],
        "testing" => &[
            "server", "state", "services", "oauth", "store", "config", "keys",
        ],
        // The crate root only declares and re-exports.
        "lib" | "main" => &[
            "cli", "server", "http", "state", "services", "oauth", "store", "config", "keys",
            "testing",
        ],
        _ => return None,
    })
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The crate modules `source` names as `crate::NAME` (also inside `crate::{A, B::c}`),
/// comments left out.
fn imports(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(without_comment)
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                names.insert(first_segment(item.trim()));
            }
        } else {
            names.insert(first_segment(rest));
        }
    }
    names.remove("");
    names
}

/// The line up to a `//` comment: the first `//` outside a string literal (an even number
/// of quotes before it), so that `"http://..."` is not taken for one.
fn without_comment(line: &str) -> &str {
    let mut quotes = 0;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => quotes += 1,
            b'/' if quotes % 2 == 0 && bytes.get(i + 1) == Some(&b'/') => return &line[..i],
            _ => {}
        }
    }
    line
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every import that breaks the direction, as `file: module -> module`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let Some(allowed) = allowed(&module) else {
            found.push(format!(
                "{}: module '{module}' has no place in the layering; add it to tests/layering.rs \
                 and ARCHITECTURE.md",
                relative.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for import in imports(&source) {
            let fine = import == module
                || LEAVES.contains(&import.as_str())
                || allowed.contains(&import.as_str())
                // Re-exported items of the crate root (`crate::Config`).
                || import.starts_with(char::is_uppercase);
            if !fine {
                found.push(format!("{}: {module} -> {import}", relative.display()));
            }
        }
    }
    found
}

#[test]
fn imports_go_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the direction of ARCHITECTURE.md:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_imports_and_ignores_comments() {
    let source = "use crate::oauth::scope;\nuse crate::{http::routes, store};\n\
                  // crate::cli in a comment\n/// see [`crate::server`]\nlet x = crate::keys::y;\n\
                  let url = format!(\"http://{a}{}\", crate::state::X); // crate::testing";
    let names: Vec<String> = imports(source).into_iter().collect();
    assert_eq!(names, ["http", "keys", "oauth", "state", "store"]);
}

#[test]
fn the_check_fails_on_a_file_that_reaches_up() {
    let dir = tempfile::tempdir().unwrap();
    let oauth = dir.path().join("oauth");
    std::fs::create_dir(&oauth).unwrap();
    std::fs::write(oauth.join("rule.rs"), "use crate::http::routes;\n").unwrap();
    std::fs::write(dir.path().join("store.rs"), "use crate::config::Config;\n").unwrap();
    assert_eq!(
        violations(dir.path()),
        ["oauth/rule.rs: oauth -> http", "store.rs: store -> config"]
    );
}
