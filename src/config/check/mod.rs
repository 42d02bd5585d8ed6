//! `tollgate check-config`: the problems of a configuration file, each with its line, in
//! line order.
//!
//! Four passes. TOML syntax first: the parser recovers and reports the errors it finds;
//! then the lines with errors are taken out, one at a time from the first (`repair`): a
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

mod locate;
mod repair;
#[cfg(test)]
mod tests;

use super::Config;
use super::validate::PathPart;
use locate::{Location, Step, locate, location_text, remove, span_at, to_file};
use repair::repair;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// One problem in the file; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub message: String,
}

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
pub(super) fn line_of(text: &str, span: &Range<usize>) -> Option<usize> {
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

/// A configuration from (part of) a parsed file; missing settings take their defaults.
fn parse_config(table: DeTable<'_>, len: usize) -> Result<Config, toml::de::Error> {
    Config::deserialize(ValueDeserializer::from(Spanned::new(
        0..len,
        DeValue::Table(table),
    )))
}
