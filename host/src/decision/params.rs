//! Policy parameters: the types a policy declares, and how configured values (YAML or
//! JSON) are checked and converted against that declaration.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Parameters as written in a config or input file, before they are checked.
pub type RawParams = BTreeMap<String, serde_json::Value>;

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamType {
    /// `true`/`false`.
    Boolean,
    /// Signed 64-bit integer.
    Integer,
    /// 64-bit float.
    Float,
    /// Free text.
    Text,
    /// Whole seconds; configured as `90s`, `15m`, `6h`, `7d` or a number of seconds.
    Duration,
    /// List of integers.
    IntegerList,
    /// List of floats.
    FloatList,
    /// List of strings.
    TextList,
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::Float => "float",
            Self::Text => "text",
            Self::Duration => "duration (e.g. 90s, 15m, 6h, 7d)",
            Self::IntegerList => "list of integers",
            Self::FloatList => "list of floats",
            Self::TextList => "list of strings",
        })
    }
}

/// A checked parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "value")]
pub enum ParamValue {
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// Whole seconds.
    Duration(u64),
    /// Integers.
    IntegerList(Vec<i64>),
    /// Floats.
    FloatList(Vec<f64>),
    /// Strings.
    TextList(Vec<String>),
}

impl ParamValue {
    /// The value's type.
    pub fn kind(&self) -> ParamType {
        match self {
            Self::Boolean(_) => ParamType::Boolean,
            Self::Integer(_) => ParamType::Integer,
            Self::Float(_) => ParamType::Float,
            Self::Text(_) => ParamType::Text,
            Self::Duration(_) => ParamType::Duration,
            Self::IntegerList(_) => ParamType::IntegerList,
            Self::FloatList(_) => ParamType::FloatList,
            Self::TextList(_) => ParamType::TextList,
        }
    }

    /// The value as plain JSON (durations as seconds), for audit records and output.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Self::Boolean(b) => json!(b),
            Self::Integer(i) => json!(i),
            Self::Float(x) => json!(x),
            Self::Text(s) => json!(s),
            Self::Duration(s) => json!(s),
            Self::IntegerList(l) => json!(l),
            Self::FloatList(l) => json!(l),
            Self::TextList(l) => json!(l),
        }
    }

    /// Converts a configured value to `kind`, or says what is wrong.
    ///
    /// # Errors
    /// When the value does not have (or convert to) the declared type.
    pub fn from_json(kind: ParamType, v: &serde_json::Value) -> Result<Self, String> {
        use serde_json::Value as J;
        let wrong = || format!("expected {kind}, found {}", describe_json(v));
        let list = |v: &J| v.as_array().cloned().ok_or_else(wrong);
        Ok(match kind {
            ParamType::Boolean => Self::Boolean(v.as_bool().ok_or_else(wrong)?),
            ParamType::Integer => Self::Integer(v.as_i64().ok_or_else(wrong)?),
            ParamType::Float => Self::Float(v.as_f64().ok_or_else(wrong)?),
            ParamType::Text => Self::Text(v.as_str().ok_or_else(wrong)?.to_owned()),
            ParamType::Duration => Self::Duration(match v {
                J::String(s) => parse_duration(s)?,
                J::Number(n) => n.as_u64().ok_or_else(wrong)?,
                _ => return Err(wrong()),
            }),
            ParamType::IntegerList => Self::IntegerList(
                list(v)?
                    .iter()
                    .map(|x| x.as_i64().ok_or_else(wrong))
                    .collect::<Result<_, _>>()?,
            ),
            ParamType::FloatList => Self::FloatList(
                list(v)?
                    .iter()
                    .map(|x| x.as_f64().ok_or_else(wrong))
                    .collect::<Result<_, _>>()?,
            ),
            ParamType::TextList => Self::TextList(
                list(v)?
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned).ok_or_else(wrong))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

fn describe_json(v: &serde_json::Value) -> String {
    use serde_json::Value as J;
    match v {
        J::Null => "null".into(),
        J::Bool(b) => format!("boolean {b}"),
        J::Number(n) => format!("number {n}"),
        J::String(s) => format!("text {s:?}"),
        J::Array(_) => "a list".into(),
        J::Object(_) => "a map".into(),
    }
}

/// Parses `90s`, `15m`, `6h`, `7d`, `2w` or a bare number of seconds.
///
/// # Errors
/// When the text is not one of those forms.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration; write e.g. 90s, 15m, 6h or 7d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{text}` has unknown unit `{unit}`; use s, m, h, d or w"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

/// A parameter a policy accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// Name.
    pub name: String,
    /// Declared type.
    pub kind: ParamType,
    /// Default; `None` means required.
    pub default: Option<ParamValue>,
    /// Documentation.
    pub doc: String,
}

/// Bounds on a policy's self-description, checked when a module is loaded: it is
/// kept in memory for as long as the module is live, printed by `sluice policy check`
/// and stored once per module digest.
pub mod description_bounds {
    /// Longest name, in bytes.
    pub const NAME_BYTES: usize = 64;
    /// Longest version, in bytes.
    pub const VERSION_BYTES: usize = 64;
    /// Longest summary, in bytes.
    pub const SUMMARY_BYTES: usize = 1024;
    /// Most parameters.
    pub const PARAMS: usize = 64;
    /// Longest parameter name, in bytes.
    pub const PARAM_NAME_BYTES: usize = 64;
    /// Longest parameter documentation, in bytes.
    pub const PARAM_DOC_BYTES: usize = 1024;
    /// Longest text in a default value (each element of a list), in bytes.
    pub const DEFAULT_TEXT_BYTES: usize = 1024;
    /// Most elements in a default list.
    pub const DEFAULT_LIST_ELEMENTS: usize = 256;
}

/// Adds a problem when `value` (from a policy) is longer than `max` bytes or, for an
/// identifier, holds control characters; quotes it only in part.
fn check_text(problems: &mut Vec<String>, what: &str, value: &str, max: usize, identifier: bool) {
    if value.len() > max {
        problems.push(format!(
            "{what} is {} bytes; at most {max} are allowed (`{}`)",
            value.len(),
            super::excerpt(value, 32)
        ));
    } else if identifier && value.chars().any(char::is_control) {
        problems.push(format!(
            "{what} `{}` contains control characters",
            super::excerpt(value, max)
        ));
    }
}

/// A policy's self-description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// Name.
    pub name: String,
    /// The policy's own version.
    pub version: String,
    /// One line.
    pub summary: String,
    /// Accepted parameters.
    pub params: Vec<ParamSpec>,
}

impl Description {
    /// Checks the description itself: a non-empty name, every string and list within
    /// [`description_bounds`], identifiers without control characters, unique parameter
    /// names, defaults of the declared type. Problems quote the policy's text only in
    /// part ([`super::excerpt`]), so a hostile description cannot blow up the message.
    ///
    /// # Errors
    /// One sentence per problem.
    pub fn check(&self) -> Result<(), Vec<String>> {
        use description_bounds as b;
        let mut problems = Vec::new();
        let p = &mut problems;
        check_text(p, "the policy's name", &self.name, b::NAME_BYTES, true);
        check_text(
            p,
            "the policy's version",
            &self.version,
            b::VERSION_BYTES,
            true,
        );
        check_text(p, "the summary", &self.summary, b::SUMMARY_BYTES, false);
        if self.name.trim().is_empty() {
            problems.push("the policy's name is empty".to_owned());
        }
        if self.params.len() > b::PARAMS {
            // Nothing more is said about each of them: that list could be huge.
            problems.push(format!(
                "it declares {} parameters; at most {} are allowed",
                self.params.len(),
                b::PARAMS
            ));
            return Err(problems);
        }
        for (i, p) in self.params.iter().enumerate() {
            let name = super::excerpt(&p.name, b::PARAM_NAME_BYTES);
            let what = |part: &str| format!("parameter `{name}`: {part}");
            let pr = &mut problems;
            check_text(pr, &what("the name"), &p.name, b::PARAM_NAME_BYTES, true);
            check_text(
                pr,
                &what("the documentation"),
                &p.doc,
                b::PARAM_DOC_BYTES,
                false,
            );
            match &p.default {
                Some(ParamValue::Text(t)) => {
                    check_text(pr, &what("the default"), t, b::DEFAULT_TEXT_BYTES, false);
                }
                Some(ParamValue::TextList(l)) => {
                    for t in l {
                        check_text(
                            pr,
                            &what("a default element"),
                            t,
                            b::DEFAULT_TEXT_BYTES,
                            false,
                        );
                    }
                }
                _ => {}
            }
            let elements = match &p.default {
                Some(ParamValue::IntegerList(l)) => l.len(),
                Some(ParamValue::FloatList(l)) => l.len(),
                Some(ParamValue::TextList(l)) => l.len(),
                _ => 0,
            };
            if elements > b::DEFAULT_LIST_ELEMENTS {
                problems.push(format!(
                    "parameter `{name}`: the default list has {elements} elements; at most {} are allowed",
                    b::DEFAULT_LIST_ELEMENTS
                ));
            }
            if self.params[..i].iter().any(|q| q.name == p.name) {
                problems.push(format!("parameter `{name}` is declared twice"));
            }
            if let Some(d) = &p.default
                && d.kind() != p.kind
            {
                problems.push(format!(
                    "parameter `{name}` is declared as {} but its default is {}",
                    p.kind,
                    d.kind()
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// `name (type, default …)` for every parameter, for error messages.
    pub fn accepted(&self) -> String {
        if self.params.is_empty() {
            return "it accepts no parameters".to_owned();
        }
        let list: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!("{} ({}, default {})", p.name, p.kind, d.to_json()),
                None => format!("{} ({}, required)", p.name, p.kind),
            })
            .collect();
        format!("it accepts: {}", list.join("; "))
    }
}

/// One checked parameter passed to a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Value.
    pub value: ParamValue,
}

/// Configured parameters that do not fit what the policy declares.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} for policy `{policy}`: {}; {accepted}", if problems.len() == 1 { "invalid parameter" } else { "invalid parameters" }, problems.join("; "))]
pub struct ParamError {
    /// The policy's name.
    pub policy: String,
    /// One sentence per problem.
    pub problems: Vec<String>,
    /// What the policy accepts.
    pub accepted: String,
}

/// Checks `raw` against `description` and returns every declared parameter with its
/// configured value or default, in declaration order.
///
/// # Errors
/// Unknown names, wrong types and missing required parameters, all listed at once.
pub fn resolve_params(
    description: &Description,
    raw: &RawParams,
) -> Result<Vec<Param>, ParamError> {
    let mut problems = Vec::new();
    for name in raw.keys() {
        if !description.params.iter().any(|p| &p.name == name) {
            problems.push(format!("unknown parameter `{name}`"));
        }
    }
    let mut out = Vec::with_capacity(description.params.len());
    for spec in &description.params {
        match (raw.get(&spec.name), &spec.default) {
            (Some(v), _) => match ParamValue::from_json(spec.kind, v) {
                Ok(value) => out.push(Param {
                    name: spec.name.clone(),
                    value,
                }),
                Err(e) => problems.push(format!("`{}`: {e}", spec.name)),
            },
            (None, Some(d)) => out.push(Param {
                name: spec.name.clone(),
                value: d.clone(),
            }),
            (None, None) => problems.push(format!("missing required parameter `{}`", spec.name)),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ParamError {
            policy: description.name.clone(),
            problems,
            accepted: description.accepted(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desc() -> Description {
        Description {
            name: "p".into(),
            version: "1".into(),
            summary: String::new(),
            params: vec![
                ParamSpec {
                    name: "n".into(),
                    kind: ParamType::Integer,
                    default: Some(ParamValue::Integer(5)),
                    doc: String::new(),
                },
                ParamSpec {
                    name: "age".into(),
                    kind: ParamType::Duration,
                    default: None,
                    doc: String::new(),
                },
            ],
        }
    }

    #[test]
    fn descriptions_beyond_their_bounds_are_refused_and_quoted_only_in_part() {
        use description_bounds as b;
        assert_eq!(desc().check(), Ok(()));
        let mut d = desc();
        d.name = "x".repeat(30 << 20);
        let problems = d.check().expect_err("huge name");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("the policy's name is 31457280 bytes; at most 64"));
        assert!(problems[0].len() < 200, "{}", problems[0].len());
        let mut d = desc();
        d.name = "evil\u{1b}[2J\r\nforged".into();
        let problems = d.check().expect_err("control characters");
        assert!(
            problems[0].contains("\\u{1b}[2J\\u{d}\\u{a}forged"),
            "{problems:?}"
        );
        let mut d = desc();
        d.params = vec![d.params[0].clone(); 100_000];
        let problems = d.check().expect_err("too many");
        assert_eq!(
            problems,
            [format!(
                "it declares 100000 parameters; at most {} are allowed",
                b::PARAMS
            )]
        );
        let mut d = desc();
        d.params[0].doc = "d".repeat(b::PARAM_DOC_BYTES + 1);
        d.params[1].default = Some(ParamValue::IntegerList(vec![
            1;
            b::DEFAULT_LIST_ELEMENTS + 1
        ]));
        d.params[1].kind = ParamType::IntegerList;
        d.version = "v".repeat(b::VERSION_BYTES + 1);
        assert_eq!(d.check().map_err(|p| p.len()), Err(3));
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("42"), Ok(42));
        assert!(parse_duration("7 days").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn defaults_fill_in_and_values_convert() {
        let raw: RawParams = [("age".to_owned(), json!("1h"))].into();
        let p = resolve_params(&desc(), &raw).expect("valid");
        assert_eq!(p[0].value, ParamValue::Integer(5));
        assert_eq!(p[1].value, ParamValue::Duration(3600));
    }

    #[test]
    fn every_problem_is_listed_with_what_is_accepted() {
        let raw: RawParams = [
            ("n".to_owned(), json!("five")),
            ("colour".to_owned(), json!(1)),
        ]
        .into();
        let e = resolve_params(&desc(), &raw).expect_err("invalid");
        let msg = e.to_string();
        assert!(msg.contains("unknown parameter `colour`"), "{msg}");
        assert!(
            msg.contains("`n`: expected integer, found text \"five\""),
            "{msg}"
        );
        assert!(msg.contains("missing required parameter `age`"), "{msg}");
        assert!(msg.contains("n (integer, default 5); age ("), "{msg}");
    }

    #[test]
    fn description_check_finds_bad_defaults_and_duplicates() {
        let mut d = desc();
        d.params.push(d.params[0].clone());
        d.params[1].default = Some(ParamValue::Text("x".into()));
        let problems = d.check().expect_err("bad");
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
