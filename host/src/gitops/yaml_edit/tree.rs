//! The parsed shape of a YAML stream, kept just detailed enough to find one scalar and
//! its place in the text: mappings, sequences, scalars (with style, anchor and tag) and
//! aliases, each with its span.

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::EditError;
use crate::gitops::selector::{Selector, Step};

/// A scalar as the parser saw it.
#[derive(Debug, Clone)]
pub(super) struct Scalar {
    /// The value, escapes resolved.
    pub value: String,
    /// How it is written.
    pub style: ScalarStyle,
    /// Whether an anchor (`&name`) stands before it.
    pub anchored: bool,
    /// Its explicit tag (`!!str`, `!custom`), if any.
    pub tag: Option<Tag>,
    /// From the first property (anchor or tag) or the value to the parser's end of the
    /// token. For quoted scalars the parser's end lies past trailing blanks and a
    /// comment; [`super::scalar::token_range`] finds the real end.
    pub span: Span,
}

/// A node of the stream.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Scalar(Scalar),
    Map(Vec<(Option<String>, Node)>, Span),
    Seq(Vec<Node>, Span),
    Alias(Span),
}

impl Node {
    pub fn start(&self) -> saphyr_parser::Marker {
        match self {
            Node::Scalar(s) => s.span.start,
            Node::Map(_, span) | Node::Seq(_, span) | Node::Alias(span) => span.start,
        }
    }

    pub fn line(&self) -> usize {
        self.start().line()
    }
}

/// Parses every document of `text`.
pub(super) fn parse(file: &str, text: &str) -> Result<Vec<Node>, EditError> {
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
        Event::Scalar(value, style, anchor, tag) => Node::Scalar(Scalar {
            value: value.into_owned(),
            style,
            anchored: anchor > 0,
            tag: tag.map(|t| t.into_owned()),
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
pub(super) fn resolve<'a>(docs: &'a [Node], selector: &Selector) -> (Vec<&'a Node>, usize) {
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
pub(super) fn target<'a>(
    file: &str,
    docs: &'a [Node],
    selector: &Selector,
) -> Result<&'a Scalar, EditError> {
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
        [Node::Alias(span)] => Err(EditError::Alias {
            file: file.to_owned(),
            selector: selector.to_string(),
            line: span.start.line(),
        }),
        [other] => Err(EditError::NotAValue {
            file: file.to_owned(),
            selector: selector.to_string(),
            line: other.line(),
            kind: match other {
                Node::Map(..) => "mapping",
                _ => "list",
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

/// Every scalar of every document with its path.
pub(super) fn flatten_docs(docs: &[Node]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        let mut path = vec![format!("doc{i}")];
        flatten(d, &mut path, &mut out);
    }
    out
}
