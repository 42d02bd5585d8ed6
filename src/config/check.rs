//! `tollgate check-config`: every problem in a configuration file, each with its line.
//!
//! Three passes, each only if the one before found nothing, since later ones need a file
//! that parses: TOML syntax (the parser recovers and reports every error), the type of
//! every setting (checked one setting, or one list item, at a time, so that one mistake
//! does not hide the next), then the meaning ([`Config::validate`]), whose paths are
//! looked up in the parsed file to find their lines.

use super::Config;
use super::validate::{PathPart, path_text};
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue, ValueDeserializer};

/// One problem in the file; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub message: String,
}

/// Lists that are checked item by item.
const LISTS: [&str; 3] = ["users", "clients", "resources"];

pub fn check_text(text: &str) -> Vec<FileProblem> {
    let line_of =
        |span: Range<usize>| Some(text[..span.start.min(text.len())].matches('\n').count() + 1);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        return syntax_errors
            .into_iter()
            .map(|e| FileProblem {
                line: e.span().and_then(line_of),
                message: e.message().trim().to_owned(),
            })
            .collect();
    }

    let mut problems = Vec::new();
    let mut known = DeTable::new();
    let mut type_errors = false;
    for (key, value) in document.get_ref().iter() {
        let name = key.get_ref().as_ref();
        if !Config::KEYS.contains(&name) {
            problems.push(FileProblem {
                line: line_of(key.span()),
                message: format!(
                    "unknown setting '{name}'; the settings are: {}",
                    Config::KEYS.join(", ")
                ),
            });
            continue;
        }
        known.insert(key.clone(), value.clone());
        let items: Vec<&Spanned<DeValue<'_>>> = match value.get_ref() {
            DeValue::Array(items) if LISTS.contains(&name) => items.iter().collect(),
            _ => vec![value],
        };
        for item in items {
            let item_value = if std::ptr::eq(item, value) {
                item.clone()
            } else {
                let mut list = DeArray::new();
                list.push(item.clone());
                Spanned::new(item.span(), DeValue::Array(list))
            };
            let mut part = DeTable::new();
            part.insert(key.clone(), item_value);
            if let Err(e) = parse_config(part, text.len()) {
                type_errors = true;
                let span = e.span().filter(|s| s.end > 0).unwrap_or(item.span());
                problems.push(FileProblem {
                    line: line_of(span),
                    message: format!("{name}: {}", e.message().trim()),
                });
            }
        }
    }
    // The meaning of the settings can only be judged once each has the right type.
    if !type_errors {
        if let Ok(config) = parse_config(known, text.len()) {
            problems.extend(config.validate().into_iter().map(|problem| FileProblem {
                line: span_of(document.get_ref(), &problem.path).and_then(line_of),
                message: format!("{}: {}", path_text(&problem.path), problem.message),
            }));
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

/// A configuration from (part of) a parsed file; missing settings take their defaults.
fn parse_config(table: DeTable<'_>, len: usize) -> Result<Config, toml::de::Error> {
    Config::deserialize(ValueDeserializer::from(Spanned::new(
        0..len,
        DeValue::Table(table),
    )))
}
/// The span of the deepest setting along `path` that the file contains.
fn span_of(document: &DeTable<'_>, path: &[PathPart]) -> Option<Range<usize>> {
    let (PathPart::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let mut current = document.get(&Spanned::new(0..0, DeString::from(*first)))?;
    for part in rest {
        let next = match (part, current.get_ref()) {
            (PathPart::Key(key), DeValue::Table(table)) => {
                table.get(&Spanned::new(0..0, DeString::from(*key)))
            }
            (PathPart::Index(i), DeValue::Array(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(Option<usize>, String)> {
        check_text(text)
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    #[test]
    fn a_good_file_has_no_problems() {
        let text = r#"
issuer = "http://127.0.0.1:9000"
access_token_ttl = "10m"

[[users]]
subject = "alice"
claims = { email = "alice@example.com" }

[[clients]]
client_id = "ci"
secret = "s3cret"
"#;
        assert_eq!(lines(text), vec![]);
    }

    #[test]
    fn syntax_errors_are_reported_with_lines() {
        let problems = lines("issuer = \"x\"\nbind = \n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, Some(2));
    }

    #[test]
    fn every_type_problem_is_reported_with_its_line() {
        let text = r#"issuer = "http://127.0.0.1:9000"
colour = "blue"
access_token_ttl = "5 minutes"

[[clients]]
client_id = "good"

[[clients]]
client_id = "bad"
redirect_uri = "http://127.0.0.1/cb"

[[users]]
subject = 5
"#;
        let problems = lines(text);
        let found: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
        assert_eq!(
            found,
            [Some(2), Some(3), Some(10), Some(13)],
            "{problems:?}"
        );
        assert!(problems[0].1.contains("unknown setting 'colour'"));
        assert!(problems[2].1.contains("redirect_uri"));
    }

    #[test]
    fn unknown_settings_do_not_hide_other_problems() {
        let problems = lines(
            "colour = 1\n[[clients]]\nclient_id = \"x\"\nredirect_uris = [\"http://evil/cb\"]\n",
        );
        let found: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
        assert_eq!(found, [Some(1), Some(4)], "{problems:?}");
    }

    #[test]
    fn meaning_problems_point_at_their_setting() {
        let text = r#"issuer = "http://127.0.0.1:9000"

[[clients]]
client_id = "ci"
redirect_uris = [
  "http://127.0.0.1/cb",
  "http://evil.example/cb",
]
user = "nobody"
"#;
        let problems = lines(text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, Some(7));
        assert!(problems[0].1.starts_with("clients[0].redirect_uris[1]"));
        assert_eq!(problems[1].0, Some(9));
    }
}
