//! Where a setting is in the file: finding the setting a span belongs to, taking it out,
//! and finding a checked setting's span again in the original file.

use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeString, DeTable, DeValue};

/// A step of a path into the file: a key of a table or an index into an array of tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

pub(super) type Location = Vec<Step>;

/// The deepest setting whose key or value contains `span`: a key of a table, or an item of
/// an array of tables (`clients[1]`). Arrays of plain values are not entered, so a wrong
/// item in `redirect_uris` takes out the whole list, which keeps the indexes of the others.
/// Children are searched whatever the span of their table, which for a `[table]` header is
/// the header alone.
pub(super) fn locate(table: &DeTable<'_>, span: &Range<usize>) -> Location {
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
pub(super) fn remove(table: &mut DeTable<'_>, location: &[Step]) -> bool {
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
pub(super) fn to_file(location: &[Step], removed: &[Location]) -> Location {
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
pub(super) fn span_at(document: &DeTable<'_>, location: &[Step]) -> Option<Range<usize>> {
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
pub(super) fn location_text(location: &[Step]) -> String {
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
