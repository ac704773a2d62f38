//! Byte-preserving YAML edits: replace the bytes of one scalar value and nothing else.
//!
//! Only the bytes of the value's own token change: its anchor and tag in front of it,
//! the blanks and comment after it, comments, key order, quoting, indentation, line
//! endings, a byte-order mark and the other documents of a multi-document file stay
//! byte-identical. The result is parsed again and checked: the target holds the new
//! value under the same anchor and tag, and every other scalar is unchanged.

#[cfg(test)]
mod properties;
mod scalar;
mod tree;

use saphyr_parser::ScalarStyle;

use super::selector::Selector;
use scalar::{TokenProblem, render, token_range};
use tree::{Node, flatten_docs, parse, resolve, target};

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
        /// `mapping` or `list`.
        kind: &'static str,
    },
    /// The selector ends at an alias (`*name`) of a value defined elsewhere.
    #[error(
        "{file}:{line}: `{selector}` is an alias (`*name`) of a value anchored elsewhere; point the selector at the anchored value (`&name`) instead; nothing was changed"
    )]
    Alias {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// Line of the alias.
        line: usize,
    },
    /// The value is empty (null): there is no token to replace.
    #[error(
        "{file}:{line}: `{selector}` has no value; write the current version there (for example `v1`) so sluice can replace it; nothing was changed"
    )]
    Empty {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// Line of the key.
        line: usize,
    },
    /// The value carries an explicit type tag the new value does not fit.
    #[error(
        "{file}:{line}: `{selector}`: {problem}; remove the tag or change the field; nothing was changed"
    )]
    TagMismatch {
        /// The file.
        file: String,
        /// The selector.
        selector: String,
        /// Line of the value.
        line: usize,
        /// What does not fit.
        problem: String,
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
    let located = |problem: TokenProblem| match problem {
        TokenProblem::Empty => EditError::Empty {
            file: file.to_owned(),
            selector: selector.to_string(),
            line,
        },
        TokenProblem::TagMismatch(problem) => EditError::TagMismatch {
            file: file.to_owned(),
            selector: selector.to_string(),
            line,
            problem,
        },
        TokenProblem::Unexpected(problem) => EditError::Verify {
            file: file.to_owned(),
            problem,
        },
    };
    let (start, end) = token_range(text, scalar).map_err(located)?;
    let written = render(new, scalar).map_err(located)?;
    let mut edited = String::with_capacity(text.len() + written.len());
    edited.push_str(&text[..start]);
    edited.push_str(&written);
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
    let was = target(file, before, selector).map_err(|e| fail(e.to_string()))?;
    if (was.anchored, &was.tag) != (now.anchored, &now.tag) {
        return Err(fail("the value's anchor or tag changed".to_owned()));
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
mod tests;
