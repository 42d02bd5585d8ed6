//! `tollgate check-config`: the problems of a configuration file, each with its line, in
//! line order.
//!
//! Four passes. TOML syntax first: the parser recovers and reports the errors it finds;
//! then the lines with errors are taken out, one at a time from the first ([`repair`]): a
//! `key = value` line keeps its key with a placeholder value that no setting accepts, so
//! the next pass takes it out like a value of the wrong type and knows which setting is
//! missing; another line (an item of a multi-line array) becomes a placeholder item, which
//! takes its whole list out; a line that still does not parse is emptied (a duplicate key,
//! a stray word). Where that cannot give a file that parses (an error in
//! a table header, an unclosed array or string that swallows the lines after it), checking
//! stops after the syntax errors and says so. Then unknown settings. Then the type of every
//! setting: the file is deserialised, the setting the error points at is reported and
//! taken out, and the rest is deserialised again, until what is left has the right types.
//! Last, the meaning of what is left ([`Config::validate`]), whose paths are looked up in
//! the file to find their lines. So a wrong type or a broken line hides nothing but itself:
//! the other settings, even of the same client, are still checked.
//!
//! A problem of meaning about a setting that was taken out is not reported (it is about
//! the default that replaced it, not about the file), nor one whose judgment rests on a
//! setting taken out ([`super::validate::Problem::assumes`]): a client whose `secret` has
//! the wrong type is checked as the server would check it without the secret, but "a public
//! client needs redirect_uris" is not said of it.

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

/// What `check_text` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// In line order.
    pub problems: Vec<FileProblem>,
    /// Whether checking stopped after the syntax errors ([`STOPPED`] says why).
    pub stopped: bool,
}

pub fn check_text(text: &str) -> Report {
    let (_, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        return Report {
            problems: check_settings(text, &[]),
            stopped: false,
        };
    }
    let (mut problems, repaired) = repair(text, &errors);
    if let Some(repaired) = &repaired {
        problems.extend(check_settings(&repaired.text, &repaired.placeholders));
    }
    problems.sort_by_key(|p| p.line);
    // The parser reports some errors more than once (at each column of a line).
    let mut unique: Vec<FileProblem> = Vec::with_capacity(problems.len());
    for problem in problems {
        if !unique.contains(&problem) {
            unique.push(problem);
        }
    }
    Report {
        problems: unique,
        stopped: repaired.is_none(),
    }
}

/// Said when the syntax errors cannot be taken out line by line.
pub const STOPPED: &str = "checking stopped after the syntax errors: they could not be taken \
     out line by line (as with an unclosed array, string or table header), so no setting was \
     checked for its type or meaning; fix them and check again";

/// The 1-based line of the start of `span`.
fn line_of(text: &str, span: &Range<usize>) -> Option<usize> {
    Some(text[..span.start.min(text.len())].matches('\n').count() + 1)
}

/// Unknown settings, types and meaning of a file without syntax errors. `placeholders`
/// are the values [`repair`] put in for lines with syntax errors: they are taken out like
/// any value of the wrong type, but their type error is not reported (the syntax error is).
fn check_settings(text: &str, placeholders: &[Range<usize>]) -> Vec<FileProblem> {
    let line_of = |span: Range<usize>| line_of(text, &span);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if let Some(error) = syntax_errors.first() {
        // `repair` hands over only text that parses; should that ever fail, say so.
        return vec![FileProblem {
            line: error.span().and_then(line_of),
            message: format!("syntax error: {}", error.message().trim()),
        }];
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
        let placeholder = span.as_ref().is_some_and(|s| {
            placeholders
                .iter()
                .any(|p| p.start <= s.start && s.end <= p.end)
        });
        if !consequence && !placeholder {
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

/// What a line with a syntax error becomes, one step further each time it still has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fix {
    Keep,
    /// `key = PLACEHOLDER` (the key is kept, so it is still known which setting is missing),
    /// or `PLACEHOLDER,` for a line that is not `key = ...` (an item of a multi-line array).
    Placeholder,
    /// An empty line.
    Blank,
}

/// A value that no setting accepts (none is a date-time), so that the type pass takes it
/// out, and records which setting it took out, as it does with any value of a wrong type.
const PLACEHOLDER: &str = "1979-05-27T00:00:00Z";

/// A file with its syntax errors taken out, line for line (line numbers are kept).
struct Repaired {
    text: String,
    /// Where the placeholders are in `text`.
    placeholders: Vec<Range<usize>>,
}

/// Takes the lines with syntax errors out of `text`, one at a time from the first, until
/// the rest parses; returns the syntax errors and what is left. Only lines with a syntax
/// error in the report are changed: the parser's, and those it finds after the lines taken
/// out so far (it may stop reporting after an error). `None` when this does not give a
/// file that parses: a table header with an error (taking it out would move its settings
/// into the table before it), or an error that stays when its line is taken out or moves
/// back up the file (an unclosed array or string swallows the lines after it).
fn repair(text: &str, errors: &[toml::de::Error]) -> (Vec<FileProblem>, Option<Repaired>) {
    let syntax_error = |text: &str, error: &toml::de::Error| FileProblem {
        line: error.span().and_then(|span| line_of(text, &span)),
        message: format!("syntax error: {}", error.message().trim()),
    };
    let mut problems: Vec<FileProblem> = errors.iter().map(|e| syntax_error(text, e)).collect();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut fixes = vec![Fix::Keep; lines.len()];
    let mut errors = errors.to_vec();
    let mut current = text.to_owned();
    let mut last_changed = 0;
    // Each round moves one line a step along Keep, Placeholder, Blank, or gives up, so
    // this ends within two rounds per line.
    loop {
        let first = errors
            .iter()
            .filter_map(|e| Some((syntax_error(&current, e).line?, e)))
            .min_by_key(|(line, _)| *line);
        let Some((line, error)) = first else {
            return (problems, None);
        };
        let Some(fix) = fixes.get_mut(line - 1) else {
            return (problems, None);
        };
        if *fix == Fix::Keep && line > last_changed {
            // The file's own text, after every line changed so far: an error the parser had
            // not reported yet (or one it had, which `check_text` removes as a repeat).
            problems.push(syntax_error(&current, error));
        } else if *fix == Fix::Keep {
            // Before a line taken out: it moved there because of that (an unclosed array
            // now ends earlier), and is not the file's own.
            return (problems, None);
        }
        last_changed = last_changed.max(line);
        *fix = match *fix {
            Fix::Keep if lines[line - 1].trim_start().starts_with('[') => {
                return (problems, None);
            }
            Fix::Keep => Fix::Placeholder,
            Fix::Placeholder => Fix::Blank,
            Fix::Blank => return (problems, None),
        };
        let repaired = apply_fixes(&lines, &fixes);
        errors = DeTable::parse_recoverable(&repaired.text).1;
        if errors.is_empty() {
            return (problems, Some(repaired));
        }
        current = repaired.text;
    }
}

fn apply_fixes(lines: &[&str], fixes: &[Fix]) -> Repaired {
    let mut text = String::new();
    let mut placeholders = Vec::new();
    for (i, (line, fix)) in lines.iter().zip(fixes).enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match fix {
            Fix::Keep => text.push_str(line),
            Fix::Blank => {}
            Fix::Placeholder => {
                let (head, tail) = match key_part(line) {
                    Some(key) => (key, ""),
                    None => (&line[..line.len() - line.trim_start().len()], ","),
                };
                text.push_str(head);
                let start = text.len();
                text.push_str(PLACEHOLDER);
                placeholders.push(start..text.len());
                text.push_str(tail);
            }
        }
    }
    Repaired { text, placeholders }
}

/// `key =` of a line that looks like `key = value` (a guess: if it is wrong, the line
/// still has a syntax error and is blanked next).
fn key_part(line: &str) -> Option<&str> {
    let equals = line.find('=')?;
    let key = line[..equals].trim();
    let key_like = |c: char| c.is_ascii_alphanumeric() || "_-. \t\"'".contains(c);
    (!key.is_empty() && !key.starts_with('[') && key.chars().all(key_like))
        .then(|| &line[..=equals])
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

    /// The problems, and [`STOPPED`] last (without a line) if checking stopped.
    fn lines(text: &str) -> Vec<(Option<usize>, String)> {
        let report = check_text(text);
        let mut lines: Vec<_> = report
            .problems
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect();
        if report.stopped {
            lines.push((None, STOPPED.to_owned()));
        }
        lines
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
        assert_eq!(
            lines("issuer = \"x\"\nbind = \n"),
            [
                (
                    Some(1),
                    "issuer: invalid issuer 'x': it is not an absolute URL".to_owned()
                ),
                (Some(2), QUOTED.to_owned()),
            ]
        );
    }

    const QUOTED: &str = "syntax error: string values must be quoted, expected literal string";

    fn at(line: usize, message: &str) -> (Option<usize>, String) {
        (Some(line), message.to_owned())
    }

    /// A line with a syntax error is taken out and the rest of the file is checked; a
    /// setting taken out that way hides only what rests on it (the secret of `ci`).
    #[test]
    fn syntax_errors_hide_nothing_else() {
        let text = r#"issuer = "http://example.com"
bind =
access_token_ttl = "5 minutes"

[[clients]]
client_id = "ci"
secret = "unterminated
redirect_uris = ["http://evil.example/cb"]
user = "nobody"
introspection = true
"#;
        assert_eq!(
            lines(text),
            [
                at(
                    1,
                    "issuer: invalid issuer 'http://example.com': http is only allowed for \
                     loopback hosts (127.0.0.1, [::1], localhost); use https, or set \
                     allow_insecure_issuer for a private demo network"
                ),
                at(2, QUOTED),
                at(
                    3,
                    "access_token_ttl: '5 minutes' has an unknown unit; use s, m, h or d"
                ),
                at(7, "syntax error: invalid basic string, expected `\"`"),
                at(
                    8,
                    "clients[0].redirect_uris[0]: redirect URI 'http://evil.example/cb' uses \
                     http on a non-loopback host; redirect URIs must use https, or http on \
                     127.0.0.1, [::1] or localhost (MCP authorization, Communication Security)"
                ),
                at(
                    9,
                    "clients[0].user: no user 'nobody' is declared (declare it under \
                     [[users]], or use 'dev')"
                ),
            ]
        );
    }

    /// The parser may stop reporting after an error; once that line is out, the errors
    /// after it are found too.
    #[test]
    fn errors_the_parser_did_not_report_are_found_after_taking_a_line_out() {
        let text = "nonsense\n[consent]\nmode = auto\nuser = \"bob\"\n";
        assert_eq!(
            lines(text),
            [
                at(1, "syntax error: key with no value, expected `=`"),
                at(3, QUOTED),
                at(
                    4,
                    "consent.user: no user 'bob' is declared (declare it under [[users]], \
                     or use 'dev')"
                ),
            ]
        );
        // A duplicate key is emptied rather than given a placeholder, which would be one too.
        assert_eq!(
            lines("issuer = \"http://127.0.0.1:9000\"\nissuer = \"x\"\n"),
            [at(2, "syntax error: duplicate key")]
        );
    }

    /// An unclosed array swallows the lines after it, and a broken table header cannot be
    /// taken out without moving its settings elsewhere: the syntax errors are reported in
    /// line order (the parser gives line 2 last), and the report says checking stopped.
    #[test]
    fn checking_stops_where_lines_cannot_be_taken_out() {
        let stopped = (None, STOPPED.to_owned());
        assert_eq!(
            lines("colour = 1\nbind = \nresources = [\n  \"a\",\n  \"b\"\nissuer = \"x\"\n"),
            [
                at(2, QUOTED),
                at(
                    6,
                    "syntax error: missing comma between array elements, expected `,`"
                ),
                at(
                    6,
                    "syntax error: unexpected `=` in array, expected value, `]`"
                ),
                at(6, "syntax error: unclosed array, expected `]`"),
                at(6, "syntax error: invalid float, expected `inf`"),
                stopped.clone(),
            ]
        );
        assert_eq!(
            lines("[[clients]\nclient_id = \"x\"\n[[clients]]\nclient_id = 5\n"),
            [
                at(1, "syntax error: unclosed array table, expected `]`"),
                stopped
            ]
        );
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
