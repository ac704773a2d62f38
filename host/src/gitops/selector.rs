//! Path selectors that address one value in a YAML document:
//! `model_version`, `images[name=inference].newTag`,
//! `spec.template.spec.containers[name=server].env[name=MODEL_VERSION].value`,
//! `items[0].tag`, `metadata.annotations."example.com/model-version"`.

use std::fmt;
use std::str::FromStr;

/// One step of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The value of key `.0` in a mapping.
    Key(String),
    /// Element `.0` of a sequence.
    Index(usize),
    /// The elements of a sequence that are mappings whose `field` is the scalar `value`.
    Where {
        /// The field compared.
        field: String,
        /// The value it must have.
        value: String,
    },
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    steps: Vec<Step>,
}

/// A selector that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid selector `{selector}` at character {position}: {problem}; write keys separated by `.`, with `[N]` or `[field=value]` after a key that holds a list, e.g. images[name=inference].newTag"
)]
pub struct SelectorError {
    /// The selector text.
    pub selector: String,
    /// 0-based character position of the problem.
    pub position: usize,
    /// What is wrong.
    pub problem: String,
}

impl Selector {
    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The text of the first `n` steps, for error messages.
    pub fn prefix(&self, n: usize) -> String {
        let mut out = String::new();
        for step in &self.steps[..n.min(self.steps.len())] {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    if k.contains(['.', '[', ']', '"']) {
                        out.push_str(&format!("{k:?}"));
                    } else {
                        out.push_str(k);
                    }
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
                Step::Where { field, value } => out.push_str(&format!("[{field}={value}]")),
            }
        }
        out
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, SelectorError> {
        let chars: Vec<char> = text.chars().collect();
        let err = |position: usize, problem: &str| SelectorError {
            selector: text.to_owned(),
            position,
            problem: problem.to_owned(),
        };
        let mut steps = Vec::new();
        let mut i = 0;
        let mut expect_key = true;
        while i < chars.len() {
            match chars[i] {
                '[' => {
                    if expect_key && steps.is_empty() {
                        return Err(err(i, "a selector starts with a key"));
                    }
                    let close = chars[i..]
                        .iter()
                        .position(|c| *c == ']')
                        .map(|p| p + i)
                        .ok_or_else(|| err(i, "`[` is not closed"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    steps.push(parse_bracket(&inner).map_err(|p| err(i + 1, &p))?);
                    i = close + 1;
                    expect_key = false;
                }
                '.' if !expect_key => {
                    i += 1;
                    expect_key = true;
                }
                '"' if expect_key => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == '"')
                        .map(|p| p + i + 1)
                        .ok_or_else(|| err(i, "quoted key is not closed"))?;
                    steps.push(Step::Key(chars[i + 1..close].iter().collect()));
                    i = close + 1;
                    expect_key = false;
                }
                c if expect_key && c != '.' => {
                    let end = chars[i..]
                        .iter()
                        .position(|c| matches!(c, '.' | '['))
                        .map_or(chars.len(), |p| p + i);
                    let key: String = chars[i..end].iter().collect();
                    if key.contains([']', '"']) {
                        return Err(err(i, "unexpected `]` or `\"` in a key"));
                    }
                    steps.push(Step::Key(key));
                    i = end;
                    expect_key = false;
                }
                _ => {
                    return Err(err(
                        i,
                        if expect_key {
                            "expected a key"
                        } else {
                            "expected `.` or `[`"
                        },
                    ));
                }
            }
        }
        if expect_key {
            return Err(err(chars.len(), "the selector is empty or ends with `.`"));
        }
        Ok(Self {
            text: text.to_owned(),
            steps,
        })
    }
}

fn parse_bracket(inner: &str) -> Result<Step, String> {
    if let Some((field, value)) = inner.split_once('=') {
        let (field, value) = (field.trim(), value.trim().trim_matches('"'));
        if field.is_empty() || value.is_empty() {
            return Err("`[field=value]` needs both a field and a value".to_owned());
        }
        return Ok(Step::Where {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    inner
        .trim()
        .parse()
        .map(Step::Index)
        .map_err(|_| format!("`[{inner}]` is neither an index nor `field=value`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(s: &str) -> Vec<Step> {
        s.parse::<Selector>().expect("valid").steps
    }

    #[test]
    fn parses_keys_filters_indexes_and_quoted_keys() {
        assert_eq!(
            steps("model_version"),
            vec![Step::Key("model_version".into())]
        );
        assert_eq!(
            steps("images[name=inference].newTag"),
            vec![
                Step::Key("images".into()),
                Step::Where {
                    field: "name".into(),
                    value: "inference".into()
                },
                Step::Key("newTag".into()),
            ]
        );
        assert_eq!(steps("items[0].tag")[1], Step::Index(0));
        assert_eq!(
            steps("metadata.annotations.\"example.com/v\""),
            vec![
                Step::Key("metadata".into()),
                Step::Key("annotations".into()),
                Step::Key("example.com/v".into())
            ]
        );
        let long = "spec.template.spec.containers[name=server].env[name=MODEL_VERSION].value";
        assert_eq!(steps(long).len(), 8);
        assert_eq!(long.parse::<Selector>().expect("valid").prefix(8), long);
    }

    #[test]
    fn bad_selectors_say_where() {
        for (bad, pos) in [
            ("", 0),
            ("a.", 2),
            ("a..b", 2),
            ("[0]", 0),
            ("a[", 1),
            ("a[x]", 2),
            ("a[=v]", 2),
            ("a]b", 0),
        ] {
            let e = bad.parse::<Selector>().expect_err(bad);
            assert_eq!(e.position, pos, "{bad}: {e}");
        }
    }
}
