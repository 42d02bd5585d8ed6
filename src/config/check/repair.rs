//! Taking the lines with syntax errors out of a file, so that the rest can be checked.

use super::{FileProblem, line_of};
use std::ops::Range;
use toml::de::DeTable;

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
pub(super) struct Repaired {
    pub text: String,
    /// Where the placeholders are in `text`.
    pub placeholders: Vec<Range<usize>>,
}

/// Takes the lines with syntax errors out of `text`, one at a time from the first, until
/// the rest parses; returns the syntax errors and what is left. Only lines with a syntax
/// error in the report are changed: the parser's, and those it finds after the lines taken
/// out so far (it may stop reporting after an error). `None` when this does not give a
/// file that parses: a table header with an error (taking it out would move its settings
/// into the table before it), or an error that stays when its line is taken out or moves
/// back up the file (an unclosed array or string swallows the lines after it).
pub(super) fn repair(
    text: &str,
    errors: &[toml::de::Error],
) -> (Vec<FileProblem>, Option<Repaired>) {
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
