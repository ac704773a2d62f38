//! One scalar's token: where its bytes are, and how a new value is written in its place
//! so that it reads back as a value of the same kind.

use saphyr_parser::{ScalarStyle, Tag};

use super::tree::Scalar;

/// Why a new value cannot be written into a scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenProblem {
    /// The value is empty (`key:` or `key: &anchor` with nothing after it).
    Empty,
    /// An explicit core-schema tag the new value does not fit (`!!int` and `v2`).
    TagMismatch(String),
    /// The bytes at the parser's position are not the scalar it reported.
    Unexpected(String),
}

/// The byte offset of character `index` in `text` (its length when past the end).
fn byte_of(text: &str, index: usize) -> usize {
    text.char_indices()
        .nth(index)
        .map_or(text.len(), |(b, _)| b)
}

/// Skips the node properties (`&anchor`, `!tag`) and the blanks, line breaks and
/// comments after them, from byte `at`; returns where the value itself starts.
fn skip_properties(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(at) {
            Some(b'&' | b'!') => {
                while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
                    at += 1;
                }
            }
            Some(b' ' | b'\t' | b'\r' | b'\n') => at += 1,
            Some(b'#') => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            _ => return at,
        }
    }
}

/// The end (exclusive) of a quoted scalar whose opening quote is at byte `start`.
fn closing_quote(text: &str, start: usize, quote: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if quote == b'"' => at += 2,
            b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 2,
            b if b == quote => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

/// The byte range of the value's own token — without its anchor or tag before it and
/// without the blanks or comment after it.
pub(super) fn token_range(text: &str, scalar: &Scalar) -> Result<(usize, usize), TokenProblem> {
    let mut start = byte_of(text, scalar.span.start.index());
    if scalar.anchored || scalar.tag.is_some() {
        start = skip_properties(text, start);
    }
    let unexpected = |what: &str| {
        TokenProblem::Unexpected(format!(
            "expected {what} at line {}",
            scalar.span.start.line()
        ))
    };
    match scalar.style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = if scalar.style == ScalarStyle::SingleQuoted {
                b'\''
            } else {
                b'"'
            };
            if text.as_bytes().get(start) != Some(&quote) {
                return Err(unexpected("a quote"));
            }
            let end =
                closing_quote(text, start, quote).ok_or_else(|| unexpected("a closing quote"))?;
            Ok((start, end))
        }
        _ => {
            if scalar.value.is_empty() {
                return Err(TokenProblem::Empty);
            }
            let end = byte_of(text, scalar.span.end.index());
            if end <= start {
                return Err(unexpected("a value"));
            }
            Ok((start, end))
        }
    }
}

/// The YAML 1.2 core-schema type a plain scalar resolves to.
pub(super) fn plain_type(s: &str) -> &'static str {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => "null",
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => "bool",
        _ if s.parse::<i64>().is_ok() || s.starts_with("0x") || s.starts_with("0o") => "int",
        _ if s.parse::<f64>().is_ok() || [".inf", "-.inf", ".nan", ".NaN", ".Inf"].contains(&s) => {
            "float"
        }
        _ => "str",
    }
}

/// Whether `s` can be written as a plain scalar in block or flow context and read back
/// as-is.
fn plain_safe(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| !"-?:,[]{}#&*!|>'\"%@`".contains(c) && !c.is_whitespace());
    first_ok
        && !s.ends_with(char::is_whitespace)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\t')
        && !s.ends_with(':')
        && !s.chars().any(char::is_control)
        // Flow indicators would end the value early inside `{…}` or `[…]`.
        && !s.contains([',', '[', ']', '{', '}'])
}

/// `new` as a double-quoted scalar.
fn double_quoted(new: &str) -> String {
    let mut out = String::with_capacity(new.len() + 2);
    out.push('"');
    for c in new.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The core-schema type an explicit tag fixes, when it is one sluice can check.
fn tag_type(tag: &Tag) -> Option<&str> {
    tag.is_yaml_core_schema()
        .then_some(tag.suffix.as_str())
        .filter(|s| ["int", "float", "bool", "null"].contains(s))
}

/// The new value written in the original's style: quotes stay quotes (of the same
/// kind), a plain value stays plain while it reads back as the same type (a string
/// that would read as a number is double-quoted), and an explicit tag stays in front.
pub(super) fn render(new: &str, original: &Scalar) -> Result<String, TokenProblem> {
    if let Some(wanted) = original.tag.as_ref().and_then(tag_type)
        && plain_type(new) != wanted
    {
        return Err(TokenProblem::TagMismatch(format!(
            "the value is tagged `!!{wanted}` and `{new}` is not a {wanted}"
        )));
    }
    // `!!str` (or the non-specific `!`) makes any plain value a string; under any other
    // tag the plain value must resolve as the old one did, as without a tag.
    let forced_string = original.tag.as_ref().is_some_and(|t| {
        (t.is_yaml_core_schema() && t.suffix == "str") || (t.handle.is_empty() && t.suffix == "!")
    });
    let same_type = forced_string || plain_type(new) == plain_type(&original.value);
    Ok(match original.style {
        ScalarStyle::SingleQuoted if !new.chars().any(char::is_control) => {
            format!("'{}'", new.replace('\'', "''"))
        }
        ScalarStyle::Plain if plain_safe(new) && same_type => new.to_owned(),
        _ => double_quoted(new),
    })
}
