//! Plain Rust types shared by every decision point: metrics, model reports,
//! parameters and the self-description.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One named measurement, for example `accuracy = 0.93`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// Its value; may be NaN or infinite — treat non-finite as missing.
    pub value: f64,
}

impl Metric {
    /// A metric named `name` with `value`.
    pub fn new(name: impl Into<String>, value: f64) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// A model version with its metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelReport {
    /// The version, for example `v7`.
    pub version: String,
    /// Named metrics in the order the trainer wrote them.
    pub metrics: Vec<Metric>,
}

impl ModelReport {
    /// A report for `version` with `metrics` given as `(name, value)` pairs.
    pub fn new(version: impl Into<String>, metrics: &[(&str, f64)]) -> Self {
        Self {
            version: version.into(),
            metrics: metrics.iter().map(|(n, v)| Metric::new(*n, *v)).collect(),
        }
    }

    /// The value of the metric called `name`, if the report has it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

/// A regression verdict. Too little data is `Inconclusive`, never `Pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The canary is not measurably worse.
    Pass,
    /// The canary is measurably worse.
    Regressed,
    /// The data cannot tell.
    Inconclusive,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// `true`/`false`.
    Boolean,
    /// Signed 64-bit integer.
    Integer,
    /// 64-bit float.
    Float,
    /// Free text.
    Text,
    /// Duration in whole seconds (`90s`, `15m`, `6h`, `7d` in the config).
    Duration,
    /// List of integers.
    IntegerList,
    /// List of floats.
    FloatList,
    /// List of strings.
    TextList,
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// Text.
    Text(String),
    /// A duration in whole seconds.
    Duration(u64),
    /// A list of integers.
    IntegerList(Vec<i64>),
    /// A list of floats.
    FloatList(Vec<f64>),
    /// A list of strings.
    TextList(Vec<String>),
}

impl ParamValue {
    /// The type of this value.
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
}

/// A parameter the policy accepts, as declared in its [`Description`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used in the pipeline config.
    pub name: String,
    /// Declared type.
    pub kind: ParamType,
    /// Default; `None` makes the parameter required.
    pub default: Option<ParamValue>,
    /// One or two sentences for operators, with the unit.
    pub doc: String,
}

impl ParamSpec {
    /// A required parameter of type `kind`.
    pub fn required(name: &str, kind: ParamType, doc: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            default: None,
            doc: doc.to_owned(),
        }
    }

    /// An optional parameter whose default is `default` (its type is the default's).
    pub fn optional(name: &str, default: ParamValue, doc: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: default.kind(),
            default: Some(default),
            doc: doc.to_owned(),
        }
    }
}

/// How a policy describes itself to the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// Stable name, for example `threshold-retrain`.
    pub name: String,
    /// The policy's own version.
    pub version: String,
    /// One line: what it decides and how.
    pub summary: String,
    /// Every accepted parameter.
    pub params: Vec<ParamSpec>,
}

/// A parameter that is missing or has another type than the code asked for.
///
/// The host fills in declared defaults and checks types before a decision, so this
/// only happens when the code asks for a name or type its description does not declare.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The parameter's name.
    pub name: String,
    /// What was wrong.
    pub problem: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.name, self.problem)
    }
}

impl core::error::Error for ParamError {}

/// Conversion from a [`ParamValue`] into a Rust type, used by [`Params::get`].
pub trait FromParam: Sized {
    /// Converts, or says what type was expected.
    fn from_param(value: &ParamValue) -> Result<Self, String>;
}

macro_rules! from_param {
    ($ty:ty, $expected:literal, $($pat:pat => $out:expr),+) => {
        impl FromParam for $ty {
            fn from_param(value: &ParamValue) -> Result<Self, String> {
                match value {
                    $($pat => $out,)+
                    other => Err(format!("expected {}, found {:?}", $expected, other.kind())),
                }
            }
        }
    };
}

from_param!(bool, "boolean", ParamValue::Boolean(b) => Ok(*b));
from_param!(i64, "integer", ParamValue::Integer(i) => Ok(*i));
from_param!(u64, "non-negative integer or duration",
    ParamValue::Integer(i) => u64::try_from(*i).map_err(|_| format!("expected a non-negative integer, found {i}")),
    ParamValue::Duration(s) => Ok(*s));
from_param!(u32, "non-negative integer",
    ParamValue::Integer(i) => u32::try_from(*i).map_err(|_| format!("expected an integer in 0..={}, found {i}", u32::MAX)));
from_param!(f64, "float",
    ParamValue::Float(x) => Ok(*x),
    ParamValue::Integer(i) => Ok(*i as f64));
from_param!(String, "text", ParamValue::Text(s) => Ok(s.clone()));
from_param!(core::time::Duration, "duration",
    ParamValue::Duration(s) => Ok(core::time::Duration::from_secs(*s)));
from_param!(Vec<i64>, "integer list", ParamValue::IntegerList(v) => Ok(v.clone()));
from_param!(Vec<f64>, "float list",
    ParamValue::FloatList(v) => Ok(v.clone()),
    ParamValue::IntegerList(v) => Ok(v.iter().map(|i| *i as f64).collect()));
from_param!(Vec<String>, "text list", ParamValue::TextList(v) => Ok(v.clone()));

/// The parameters of one decision: configured values and declared defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params(Vec<(String, ParamValue)>);

impl Params {
    /// No parameters (the host always sends the declared defaults; in unit tests,
    /// [`Params::or`] and [`Params::get_or`] give them).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `name`, builder style, for unit tests.
    pub fn with(mut self, name: &str, value: ParamValue) -> Self {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value));
        self
    }

    /// The raw value of `name`.
    pub fn raw(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of `name` converted to `T`.
    ///
    /// # Errors
    /// When `name` is absent or has another type.
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T, ParamError> {
        let value = self.raw(name).ok_or_else(|| ParamError {
            name: name.to_owned(),
            problem: "not set and no default declared".to_owned(),
        })?;
        T::from_param(value).map_err(|problem| ParamError {
            name: name.to_owned(),
            problem,
        })
    }

    /// The value of `name` as `T`, or `default` when it is absent or of another type.
    pub fn get_or<T: FromParam>(&self, name: &str, default: T) -> T {
        self.get(name).unwrap_or(default)
    }

    /// Every `(name, value)` pair.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Builds from pairs.
    pub fn from_pairs(pairs: Vec<(String, ParamValue)>) -> Self {
        Self(pairs)
    }
}
