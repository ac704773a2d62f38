//! Byte-preserving YAML edits: replace the bytes of one scalar value and nothing else.
//!
//! Comments, key order, quoting, indentation, blank lines and the other documents of
//! a multi-document file stay byte-identical. The result is parsed again and checked:
//! the target holds the new value and every other scalar is unchanged.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::selector::{Selector, Step};

/// Why an edit was not made. Nothing is changed when any of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: not valid YAML: {problem}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        problem: String,
    },
    /// No node matches the selector.
    #[error("{file}: `{selector}` matches nothing ({detail}); nothing was changed")]
    NoMatch {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// How far it got.
        detail: String,
    },
    /// More than one node matches.
    #[error("{file}: `{selector}` matches {count} values (lines {}); make it select exactly one, for example with [field=value]; nothing was changed", lines.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// How many matched.
        count: usize,
        /// Their lines.
        lines: Vec<usize>,
    },
    /// The selector ends at a mapping or list, not a value.
    #[error(
        "{file}:{line}: `{selector}` selects a {kind}, not a single value; nothing was changed"
    )]
    NotAValue {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// Line of the node.
        line: usize,
        /// `mapping`, `list` or `alias`.
        kind: &'static str,
    },
    /// Literal and folded block scalars are not edited.
    #[error(
        "{file}:{line}: `{selector}` is a block scalar (`|` or `>`); sluice edits only plain or quoted values; nothing was changed"
    )]
    BlockScalar {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// Line of the value.
        line: usize,
    },
    /// The new value contains a line break.
    #[error("the new value for `{selector}` contains a line break; versions are single-line")]
    MultiLine {
        /// The selector.
        selector: String,
    },
    /// The edited text failed the re-parse check (a bug guard: should never happen).
    #[error("{file}: the edited file failed its check ({problem}); nothing was changed")]
    Verify {
        /// The file.
        file: String,
        /// What differed.
        problem: String,
    },
}

/// The outcome of a successful edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new file content.
    pub text: String,
    /// The value that was replaced.
    pub old_value: String,
    /// 1-based line of the value.
    pub line: usize,
    /// `false` when the value already was the new one (`text` is then the input).
    pub changed: bool,
}

#[derive(Debug, Clone)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    span: Span,
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(Scalar),
    Map(Vec<(Option<String>, Node)>, Span),
    Seq(Vec<Node>, Span),
    Alias(Span),
}

impl Node {
    fn start(&self) -> saphyr_parser::Marker {
        match self {
            Node::Scalar(s) => s.span.start,
            Node::Map(_, span) | Node::Seq(_, span) | Node::Alias(span) => span.start,
        }
    }

    fn line(&self) -> usize {
        self.start().line()
    }
}

/// Parses every document of `text`.
fn parse(file: &str, text: &str) -> Result<Vec<Node>, EditError> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        match item {
            Ok((ev, span)) => events.push((ev, span)),
            Err(e) => {
                return Err(EditError::Parse {
                    file: file.to_owned(),
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                    problem: e.info().to_owned(),
                });
            }
        }
    }
    let mut it = events.into_iter().peekable();
    let mut docs = Vec::new();
    while let Some((ev, _)) = it.next() {
        if matches!(ev, Event::DocumentStart(_))
            && let Some(node) = build(&mut it)
        {
            docs.push(node);
        }
    }
    Ok(docs)
}

type Events<'a> = std::iter::Peekable<std::vec::IntoIter<(Event<'a>, Span)>>;

fn build(it: &mut Events<'_>) -> Option<Node> {
    let (ev, span) = it.next()?;
    Some(match ev {
        Event::Scalar(value, style, _, _) => Node::Scalar(Scalar {
            value: value.into_owned(),
            style,
            span,
        }),
        Event::MappingStart(..) => {
            let mut entries = Vec::new();
            while !matches!(it.peek(), Some((Event::MappingEnd, _)) | None) {
                let key = build(it)?;
                let value = build(it)?;
                let key = match key {
                    Node::Scalar(s) => Some(s.value),
                    _ => None,
                };
                entries.push((key, value));
            }
            it.next();
            Node::Map(entries, span)
        }
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            while !matches!(it.peek(), Some((Event::SequenceEnd, _)) | None) {
                items.push(build(it)?);
            }
            it.next();
            Node::Seq(items, span)
        }
        Event::Alias(_) => Node::Alias(span),
        // DocumentEnd etc. never start a node in a well-formed stream.
        _ => return None,
    })
}

/// Applies `step` to every node in `from`.
fn apply<'a>(from: Vec<&'a Node>, step: &Step) -> Vec<&'a Node> {
    let mut out = Vec::new();
    for node in from {
        match (step, node) {
            (Step::Key(k), Node::Map(entries, _)) => out.extend(
                entries
                    .iter()
                    .filter(|(key, _)| key.as_deref() == Some(k.as_str()))
                    .map(|(_, v)| v),
            ),
            (Step::Index(i), Node::Seq(items, _)) => out.extend(items.get(*i)),
            (Step::Where { field, value }, Node::Seq(items, _)) => {
                out.extend(items.iter().filter(|item| {
                    matches!(item, Node::Map(entries, _) if entries.iter().any(|(k, v)| {
                        k.as_deref() == Some(field.as_str())
                            && matches!(v, Node::Scalar(s) if s.value == *value)
                    }))
                }));
            }
            _ => {}
        }
    }
    out
}

/// Every node the selector reaches, across documents, and how many steps matched.
fn resolve<'a>(docs: &'a [Node], selector: &Selector) -> (Vec<&'a Node>, usize) {
    let mut current: Vec<&Node> = docs.iter().collect();
    for (i, step) in selector.steps().iter().enumerate() {
        let next = apply(current, step);
        if next.is_empty() {
            return (next, i);
        }
        current = next;
    }
    (current, selector.steps().len())
}

/// The one scalar `selector` addresses in `docs`.
fn target<'a>(file: &str, docs: &'a [Node], selector: &Selector) -> Result<&'a Scalar, EditError> {
    let (found, matched) = resolve(docs, selector);
    match found.as_slice() {
        [] => Err(EditError::NoMatch {
            file: file.to_owned(),
            selector: selector.to_string(),
            detail: if matched == 0 {
                format!("no document has `{}`", selector.prefix(1))
            } else {
                format!(
                    "`{}` exists but `{}` does not",
                    selector.prefix(matched),
                    selector.prefix(matched + 1)
                )
            },
        }),
        [Node::Scalar(s)] => Ok(s),
        [other] => Err(EditError::NotAValue {
            file: file.to_owned(),
            selector: selector.to_string(),
            line: other.line(),
            kind: match other {
                Node::Map(..) => "mapping",
                Node::Seq(..) => "list",
                _ => "alias",
            },
        }),
        many => Err(EditError::Ambiguous {
            file: file.to_owned(),
            selector: selector.to_string(),
            count: many.len(),
            lines: many.iter().map(|n| n.line()).collect(),
        }),
    }
}

/// The YAML 1.2 core-schema type a plain scalar resolves to.
fn plain_type(s: &str) -> &'static str {
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

/// Whether `s` can be written as a plain scalar in block context and read back as-is.
fn plain_safe(s: &str) -> bool {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| !"-?:,[]{}#&*!|>'\"%@`".contains(c) && !c.is_whitespace());
    first_ok
        && !s.ends_with(char::is_whitespace)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        // Flow indicators would end the value early inside `{…}` or `[…]`.
        && !s.contains([',', '[', ']', '{', '}'])
}

/// The new value written in the original's style, keeping its type when plain.
fn render(new: &str, original: &Scalar) -> String {
    let double = || {
        let escaped = new.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    };
    match original.style {
        ScalarStyle::SingleQuoted => format!("'{}'", new.replace('\'', "''")),
        ScalarStyle::Plain if plain_safe(new) && plain_type(new) == plain_type(&original.value) => {
            new.to_owned()
        }
        _ => double(),
    }
}

/// Every scalar with its path, for comparing two versions of a file.
fn flatten(node: &Node, path: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    match node {
        Node::Scalar(s) => out.push((path.join("/"), s.value.clone())),
        Node::Map(entries, _) => {
            for (k, v) in entries {
                path.push(k.clone().unwrap_or_else(|| "?".to_owned()));
                flatten(v, path, out);
                path.pop();
            }
        }
        Node::Seq(items, _) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten(v, path, out);
                path.pop();
            }
        }
        Node::Alias(_) => out.push((path.join("/"), "*alias".to_owned())),
    }
}

fn flatten_docs(docs: &[Node]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let mut path = vec![format!("doc{i}")];
        flatten(d, &mut path, &mut out);
    }
    out
}

/// Sets the value `selector` addresses in `text` (the content of `file`) to `new`,
/// changing no other byte.
///
/// # Errors
/// See [`EditError`]; on error the caller's text is untouched.
pub fn set_value(
    file: &str,
    text: &str,
    selector: &Selector,
    new: &str,
) -> Result<Edit, EditError> {
    if new.contains(['\n', '\r']) {
        return Err(EditError::MultiLine {
            selector: selector.to_string(),
        });
    }
    let docs = parse(file, text)?;
    let scalar = target(file, &docs, selector)?;
    let line = scalar.span.start.line();
    if matches!(scalar.style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return Err(EditError::BlockScalar {
            file: file.to_owned(),
            selector: selector.to_string(),
            line,
        });
    }
    if scalar.value == new {
        return Ok(Edit {
            text: text.to_owned(),
            old_value: scalar.value.clone(),
            line,
            changed: false,
        });
    }
    let byte = |char_index: usize| -> usize {
        text.char_indices()
            .nth(char_index)
            .map_or(text.len(), |(b, _)| b)
    };
    let (start, end) = (
        byte(scalar.span.start.index()),
        byte(scalar.span.end.index()),
    );
    let mut edited = String::with_capacity(text.len() + new.len());
    edited.push_str(&text[..start]);
    edited.push_str(&render(new, scalar));
    edited.push_str(&text[end..]);
    verify(file, &docs, &edited, selector, new)?;
    Ok(Edit {
        text: edited,
        old_value: scalar.value.clone(),
        line,
        changed: true,
    })
}

/// Re-parses `edited`: the target must hold `new`, every other scalar must be as before.
fn verify(
    file: &str,
    before: &[Node],
    edited: &str,
    selector: &Selector,
    new: &str,
) -> Result<(), EditError> {
    let fail = |problem: String| EditError::Verify {
        file: file.to_owned(),
        problem,
    };
    let after = parse(file, edited).map_err(|e| fail(e.to_string()))?;
    let now = target(file, &after, selector).map_err(|e| fail(e.to_string()))?;
    if now.value != new {
        return Err(fail(format!("the value reads back as {:?}", now.value)));
    }
    let (old, new_flat) = (flatten_docs(before), flatten_docs(&after));
    let differing: Vec<&String> = old
        .iter()
        .zip(&new_flat)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| &a.0)
        .collect();
    if old.len() != new_flat.len() || differing.len() != 1 {
        return Err(fail(format!("other values changed: {differing:?}")));
    }
    Ok(())
}

/// Where the node `selector` addresses starts, as 1-based (line, column): for pointing
/// an error about a config field at its place in the file. `None` when it is absent.
///
/// # Errors
/// When `text` is not valid YAML.
pub fn locate(
    file: &str,
    text: &str,
    selector: &Selector,
) -> Result<Option<(usize, usize)>, EditError> {
    let docs = parse(file, text)?;
    let (found, matched) = resolve(&docs, selector);
    Ok((matched == selector.steps().len())
        .then(|| found.first().map(|n| n.start()))
        .flatten()
        .map(|m| (m.line(), m.col() + 1)))
}

/// Reads a value without editing (for checks and tests).
///
/// # Errors
/// As [`set_value`].
pub fn get_value(file: &str, text: &str, selector: &Selector) -> Result<String, EditError> {
    let docs = parse(file, text)?;
    target(file, &docs, selector).map(|s| s.value.clone())
}

#[cfg(test)]
#[path = "yaml_edit_tests.rs"]
mod tests;
