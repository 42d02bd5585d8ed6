//! `tollgate check-config`: every problem in a configuration file, each with its line.
//!
//! Three passes. TOML syntax first (the parser recovers and reports every error); the rest
//! needs a file that parses. Then the type of every setting: the file is deserialised, the
//! setting the error points at is reported and taken out, and the rest is deserialised
//! again, until what is left has the right types. Last, the meaning of what is left
//! ([`Config::validate`]), whose paths are looked up in the file to find their lines. So a
//! wrong type hides nothing but itself: the other settings, even of the same client, are
//! still checked.
//!
//! A problem of meaning about a setting that was taken out for its type is not reported
//! (it is about the default that replaced it, not about the file), nor one whose judgment
//! rests on a setting taken out ([`super::validate::Problem::assumes`]): a client whose
//! `secret` has the wrong type is checked as the server would check it without the secret,
//! but "a public client needs redirect_uris" is not said of it.

use super::Config;
use super::validate::PathPart;
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

/// A step of a path into the file: a key of a table or an index into an array of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

type Location = Vec<Step>;

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
    let mut remaining = DeTable::new();
    for (key, value) in document.get_ref().iter() {
        let name = key.get_ref().as_ref();
        if Config::KEYS.contains(&name) {
            remaining.insert(key.clone(), value.clone());
        } else {
            problems.push(FileProblem {
                line: line_of(key.span()),
                message: format!(
                    "unknown setting '{name}'; the settings are: {}",
                    Config::KEYS.join(", ")
                ),
            });
        }
    }

    // Settings taken out for their type, as locations in the file.
    let mut removed: Vec<Location> = Vec::new();
    let config = loop {
        let error = match parse_config(remaining.clone(), text.len()) {
            Ok(config) => break Some(config),
            Err(error) => error,
        };
        let span = error.span().filter(|s| s.end > s.start);
        let here = span
            .as_ref()
            .map(|s| locate(&remaining, s))
            .unwrap_or_default();
        if here.is_empty() || !remove(&mut remaining, &here) {
            // Not attributable to one setting (it should not happen): report it and stop,
            // since nothing can be taken out to go on.
            problems.push(FileProblem {
                line: span.and_then(line_of),
                message: error.message().trim().to_owned(),
            });
            break None;
        }
        let in_file = to_file(&here, &removed);
        // Taking a required setting out makes its table fail as a whole ("missing field"):
        // that is the same problem again, already reported.
        let consequence = removed.iter().any(|r| r.starts_with(&in_file));
        if !consequence {
            problems.push(FileProblem {
                line: span.and_then(line_of),
                message: format!("{}: {}", location_text(&in_file), error.message().trim()),
            });
        }
        removed.push(in_file);
    };

    if let Some(config) = config {
        for problem in config.validate() {
            let here = location(&problem.path);
            let in_file = to_file(&here, &removed);
            let taken_out = |at: &Location| removed.iter().any(|r| at.starts_with(r));
            // About a setting taken out, or judged by the default that replaced one.
            if taken_out(&in_file)
                || problem
                    .assumes
                    .iter()
                    .any(|path| taken_out(&to_file(&location(path), &removed)))
            {
                continue;
            }
            problems.push(FileProblem {
                line: span_at(document.get_ref(), &in_file).and_then(line_of),
                message: format!("{}: {}", location_text(&in_file), problem.message),
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    problems
}

/// A path of `validate` as a location.
fn location(path: &[PathPart]) -> Location {
    path.iter()
        .map(|part| match part {
            PathPart::Key(key) => Step::Key((*key).to_owned()),
            PathPart::Index(i) => Step::Index(*i),
        })
        .collect()
}

/// A configuration from (part of) a parsed file; missing settings take their defaults.
fn parse_config(table: DeTable<'_>, len: usize) -> Result<Config, toml::de::Error> {
    Config::deserialize(ValueDeserializer::from(Spanned::new(
        0..len,
        DeValue::Table(table),
    )))
}

/// The deepest setting whose key or value contains `span`: a key of a table, or an item of
/// an array of tables (`clients[1]`). Arrays of plain values are not entered, so a wrong
/// item in `redirect_uris` takes out the whole list, which keeps the indexes of the others.
/// Children are searched whatever the span of their table, which for a `[table]` header is
/// the header alone.
fn locate(table: &DeTable<'_>, span: &Range<usize>) -> Location {
    let contains = |outer: Range<usize>| outer.start <= span.start && span.end <= outer.end;
    for (key, value) in table.iter() {
        let mut here = vec![Step::Key(key.get_ref().to_string())];
        if contains(key.span()) {
            return here;
        }
        match value.get_ref() {
            DeValue::Table(inner) => {
                let deeper = locate(inner, span);
                if !deeper.is_empty() {
                    here.extend(deeper);
                    return here;
                }
            }
            DeValue::Array(items) if items.iter().all(|i| i.get_ref().is_table()) => {
                for (i, item) in items.iter().enumerate() {
                    let deeper = match item.get_ref() {
                        DeValue::Table(inner) => locate(inner, span),
                        _ => Vec::new(),
                    };
                    if !deeper.is_empty() || contains(item.span()) {
                        here.push(Step::Index(i));
                        here.extend(deeper);
                        return here;
                    }
                }
            }
            _ => {}
        }
        if contains(value.span()) {
            return here;
        }
    }
    Vec::new()
}

/// Takes the setting at `location` out of `table`; returns whether it was there.
fn remove(table: &mut DeTable<'_>, location: &[Step]) -> bool {
    let Some((Step::Key(key), rest)) = location.split_first() else {
        return false;
    };
    let key = Spanned::new(0..0, DeString::from(key.clone()));
    let Some(value) = table.get_mut(&key) else {
        return false;
    };
    match (rest, value.get_mut()) {
        ([], _) => table.remove(&key).is_some(),
        ([Step::Index(i), deeper @ ..], DeValue::Array(items)) if *i < items.len() => {
            if deeper.is_empty() {
                let kept: DeArray<'_> = std::mem::replace(items, DeArray::new())
                    .into_iter()
                    .enumerate()
                    .filter(|(j, _)| j != i)
                    .map(|(_, item)| item)
                    .collect();
                *items = kept;
                true
            } else {
                match items.get_mut(*i).map(Spanned::get_mut) {
                    Some(DeValue::Table(inner)) => remove(inner, deeper),
                    _ => false,
                }
            }
        }
        (deeper, DeValue::Table(inner)) => remove(inner, deeper),
        _ => false,
    }
}

/// Turns a location in what is left of the file into one in the file itself: indexes move
/// up past the items taken out before them.
fn to_file(location: &[Step], removed: &[Location]) -> Location {
    let mut in_file: Location = Vec::with_capacity(location.len());
    for step in location {
        let step = match step {
            Step::Index(i) => {
                let mut gone: Vec<usize> = removed
                    .iter()
                    .filter_map(|r| match r.split_last() {
                        Some((Step::Index(j), parent)) if parent == in_file.as_slice() => Some(*j),
                        _ => None,
                    })
                    .collect();
                gone.sort_unstable();
                let mut index = *i;
                for j in gone {
                    if j <= index {
                        index += 1;
                    }
                }
                Step::Index(index)
            }
            key => key.clone(),
        };
        in_file.push(step);
    }
    in_file
}

/// The span of the deepest setting along `location` that the file contains.
fn span_at(document: &DeTable<'_>, location: &[Step]) -> Option<Range<usize>> {
    let (Step::Key(first), rest) = location.split_first()? else {
        return None;
    };
    let mut current = document.get(&Spanned::new(0..0, DeString::from(first.clone())))?;
    for step in rest {
        let next = match (step, current.get_ref()) {
            (Step::Key(key), DeValue::Table(table)) => {
                table.get(&Spanned::new(0..0, DeString::from(key.clone())))
            }
            (Step::Index(i), DeValue::Array(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current.span())
}

/// `clients[1].redirect_uris`, as `validate` writes paths.
fn location_text(location: &[Step]) -> String {
    let mut text = String::new();
    for step in location {
        match step {
            Step::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Step::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
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

    fn at(line: usize, message: &str) -> (Option<usize>, String) {
        (Some(line), message.to_owned())
    }

    /// A value of the wrong type hides the problems that rest on it: without its secret
    /// the client would be public, but that is the default speaking, not the file.
    #[test]
    fn problems_resting_on_a_value_taken_out_are_not_reported() {
        let text = r#"[[clients]]
client_id = "rs"
secret = 7
introspection = true
auth_method = "client_secret_post"
scopes = ["a b"]

[[clients]]
client_id = "machine"
secret_hash = 7
grant_types = ["client_credentials"]
"#;
        assert_eq!(
            lines(text),
            [
                at(
                    3,
                    "clients[0].secret: invalid type: integer `7`, expected a string"
                ),
                at(6, "clients[0].scopes[0]: 'a b' is not a single scope token"),
                at(
                    10,
                    "clients[1].secret_hash: invalid type: integer `7`, expected a string"
                ),
            ]
        );
        let text = r#"allow_insecure_issuer = "yes"
issuer = "http://example.com"
users = "alice"

[consent]
user = "alice"
"#;
        assert_eq!(
            lines(text),
            [
                at(
                    1,
                    "allow_insecure_issuer: invalid type: string \"yes\", expected a boolean"
                ),
                at(
                    3,
                    "users: invalid type: string \"alice\", expected a sequence"
                ),
            ]
        );
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
secret = "s"

[[clients]]
client_id = "bad"
secret = "s"
redirect_uri = "http://127.0.0.1/cb"

[[users]]
subject = 5
"#;
        let problems = lines(text);
        let found: Vec<Option<usize>> = problems.iter().map(|p| p.0).collect();
        assert_eq!(
            found,
            [Some(2), Some(3), Some(12), Some(15)],
            "{problems:?}"
        );
        assert!(problems[0].1.contains("unknown setting 'colour'"));
        assert!(
            problems[2]
                .1
                .starts_with("clients[1].redirect_uri: unknown field")
        );
        assert!(problems[3].1.starts_with("users[0].subject: invalid type"));
    }

    /// A wrong type hides nothing else, not even the other settings of its own client; the
    /// settings after an item taken out keep their own index and line.
    #[test]
    fn type_errors_do_not_hide_problems_of_meaning() {
        let text = r#"issuer = "http://example.com"
bind = "nonsense"
access_token_ttl = "5 minutes"

[consent]
mode = "sometimes"
user = "nobody"

[[users]]
subject = "alice"
claims = { sub = "x" }

[[users]]
name = "no subject"

[[users]]
subject = "carol"
password_hash = "plain"

[[clients]]
client_id = "ci"
redirect_uris = ["http://evil.example/cb"]
consent = "sometimes"
grant_types = ["implicit"]

[[clients]]
client_id = "second"
secret = "s"
scopes = "mcp:tools"
user = "bob"
"#;
        let problems = lines(text);
        let found: Vec<(usize, &str)> = problems
            .iter()
            .map(|(line, message)| {
                let path = message.split(':').next().unwrap_or_default();
                (line.unwrap_or_default(), path)
            })
            .collect();
        assert_eq!(
            found,
            [
                (1, "issuer"),
                (2, "bind"),
                (3, "access_token_ttl"),
                (6, "consent.mode"),
                (7, "consent.user"),
                (11, "users[0].claims"),
                (13, "users[1]"),
                (18, "users[2].password_hash"),
                (22, "clients[0].redirect_uris[0]"),
                (23, "clients[0].consent"),
                (24, "clients[0].grant_types[0]"),
                (29, "clients[1].scopes"),
                (30, "clients[1].user"),
            ],
            "{problems:#?}"
        );
        assert!(problems[6].1.contains("missing field `subject`"));
    }

    #[test]
    fn a_required_setting_of_the_wrong_type_is_reported_once() {
        let problems = lines("[[clients]]\nclient_id = 5\nsecret = \"s\"\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, Some(2));
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
