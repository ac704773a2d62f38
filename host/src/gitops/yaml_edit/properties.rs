//! The editor's promise, tested over generated documents: editing one scalar changes the
//! bytes of that scalar's token and no other byte, and an independent YAML parser
//! (libyaml, through serde_yaml_ng) reads the new value there and every other value as
//! before.
//!
//! The generator writes documents mixing every scalar style (plain, single- and
//! double-quoted), with and without anchors and tags, in block mappings, block
//! sequences and flow collections, with and without comments and trailing blanks,
//! LF or CRLF line ends, a byte-order mark or none, a final line end or none, and one
//! to three documents. While writing, it records the byte range of every scalar's
//! token, so the test knows exactly which bytes the edit may touch.

use proptest::prelude::*;
use serde_yaml_ng::Value;

use super::{get_value, set_value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Single,
    Double,
}

/// One scalar as generated: its value, how it is written, what surrounds it.
#[derive(Debug, Clone)]
struct Leaf {
    value: String,
    style: Style,
    anchor: bool,
    /// 0: none, 1: `!!str`, 2: a local tag `!ver`.
    tag: u8,
    /// Blanks after the value (block context only).
    trailing: String,
    /// A comment after the value (block context only).
    comment: Option<String>,
    /// An alias of this leaf's anchor follows as another entry.
    aliased: bool,
}

#[derive(Debug, Clone)]
enum Shape {
    Scalar(Leaf),
    BlockList(Vec<Leaf>),
    FlowMap(Vec<Leaf>, bool),
    FlowList(Vec<Leaf>, bool),
    Nested(Vec<Leaf>),
}

#[derive(Debug, Clone)]
struct Stream {
    docs: Vec<Vec<Shape>>,
    crlf: bool,
    bom: bool,
    final_newline: bool,
}

/// A written leaf: the path to it and where its token is.
#[derive(Debug, Clone)]
struct Placed {
    selector: String,
    path: Vec<PathStep>,
    value: String,
    token: (usize, usize),
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn plain_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "v[0-9]{1,3}",
        "[a-z]{1,6}-[0-9]\\.[0-9]",
        "[1-9][0-9]{0,2}",
        "model_[a-z]{2,5}",
    ]
}

fn quoted_value() -> impl Strategy<Value = String> {
    prop_oneof![
        plain_value(),
        "[a-z]{0,3}[ #:,'\"\\\\]{1,3}[a-z0-9]{0,3}",
        Just(String::new()),
        "[0-9]\\.[0-9]{1,2}",
    ]
}

fn leaf(block: bool) -> impl Strategy<Value = Leaf> {
    let style = prop_oneof![Just(Style::Plain), Just(Style::Single), Just(Style::Double)];
    (
        style,
        plain_value(),
        quoted_value(),
        any::<bool>(),
        0u8..3,
        prop_oneof![Just(""), Just(" "), Just("   "), Just("\t"), Just(" \t ")],
        proptest::option::of("[a-z ]{0,12}"),
        any::<bool>(),
    )
        .prop_map(
            move |(style, plain, quoted, anchor, tag, trailing, comment, aliased)| Leaf {
                value: if style == Style::Plain { plain } else { quoted },
                style,
                anchor,
                tag,
                trailing: if block {
                    trailing.to_owned()
                } else {
                    String::new()
                },
                comment: if block { comment } else { None },
                aliased: anchor && aliased,
            },
        )
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        3 => leaf(true).prop_map(Shape::Scalar),
        1 => proptest::collection::vec(leaf(true), 1..4).prop_map(Shape::BlockList),
        1 => (proptest::collection::vec(leaf(false), 1..4), any::<bool>())
            .prop_map(|(l, s)| Shape::FlowMap(l, s)),
        1 => (proptest::collection::vec(leaf(false), 1..4), any::<bool>())
            .prop_map(|(l, s)| Shape::FlowList(l, s)),
        1 => proptest::collection::vec(leaf(true), 1..3).prop_map(Shape::Nested),
    ]
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        proptest::collection::vec(proptest::collection::vec(shape(), 1..5), 1..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(docs, crlf, bom, final_newline)| Stream {
            docs,
            crlf,
            bom,
            final_newline,
        })
}

/// Writes streams and records where each scalar token lands.
struct Writer {
    text: String,
    nl: &'static str,
    placed: Vec<Placed>,
    anchors: usize,
}

impl Writer {
    /// Writes `leaf`'s properties and token; returns its anchor's name when an alias of
    /// it is to follow.
    fn leaf(&mut self, leaf: &Leaf, selector: String, path: Vec<PathStep>) -> Option<String> {
        let mut anchor = None;
        if leaf.anchor {
            self.anchors += 1;
            let name = format!("a{}", self.anchors);
            self.text.push_str(&format!("&{name} "));
            anchor = Some(name);
        }
        match leaf.tag {
            1 => self.text.push_str("!!str "),
            2 => self.text.push_str("!ver "),
            _ => {}
        }
        let start = self.text.len();
        match leaf.style {
            Style::Plain => self.text.push_str(&leaf.value),
            Style::Single => {
                self.text.push('\'');
                self.text.push_str(&leaf.value.replace('\'', "''"));
                self.text.push('\'');
            }
            Style::Double => {
                self.text.push('"');
                self.text
                    .push_str(&leaf.value.replace('\\', "\\\\").replace('"', "\\\""));
                self.text.push('"');
            }
        }
        self.placed.push(Placed {
            selector,
            path,
            value: leaf.value.clone(),
            token: (start, self.text.len()),
        });
        self.text.push_str(&leaf.trailing);
        if let Some(c) = &leaf.comment {
            self.text
                .push_str(if leaf.trailing.is_empty() { " #" } else { "#" });
            self.text.push_str(c);
        }
        anchor.filter(|_| leaf.aliased)
    }

    fn line_end(&mut self) {
        self.text.push_str(self.nl);
    }

    fn shape(&mut self, key: &str, shape: &Shape) {
        let k = |s: &str| PathStep::Key(s.to_owned());
        self.text.push_str(key);
        self.text.push(':');
        let mut aliases = Vec::new();
        match shape {
            Shape::Scalar(l) => {
                self.text.push(' ');
                aliases.extend(self.leaf(l, key.to_owned(), vec![k(key)]));
                self.line_end();
            }
            Shape::BlockList(items) => {
                self.line_end();
                for (i, l) in items.iter().enumerate() {
                    self.text.push_str("  - ");
                    let sel = format!("{key}[{i}]");
                    aliases.extend(self.leaf(l, sel, vec![k(key), PathStep::Index(i)]));
                    self.line_end();
                }
            }
            Shape::FlowMap(items, spaced) => {
                self.text.push_str(" {");
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(if *spaced { " , " } else { ", " });
                    }
                    let field = format!("f{i}");
                    self.text.push_str(&format!("{field}: "));
                    self.leaf(l, format!("{key}.{field}"), vec![k(key), k(&field)]);
                }
                self.text.push_str(if *spaced { " }" } else { "}" });
                self.text.push_str("  # flow");
                self.line_end();
            }
            Shape::FlowList(items, spaced) => {
                self.text.push_str(" [");
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        self.text.push_str(if *spaced { " ,  " } else { "," });
                    }
                    let sel = format!("{key}[{i}]");
                    self.leaf(l, sel, vec![k(key), PathStep::Index(i)]);
                }
                self.text.push(']');
                self.line_end();
            }
            Shape::Nested(items) => {
                self.text.push_str("   # nested");
                self.line_end();
                for (i, l) in items.iter().enumerate() {
                    let field = format!("n{i}");
                    self.text.push_str(&format!("  {field}: "));
                    let sel = format!("{key}.{field}");
                    aliases.extend(self.leaf(l, sel, vec![k(key), k(&field)]));
                    self.line_end();
                }
            }
        }
        for a in aliases {
            self.text.push_str(&format!("{key}_{a}: *{a}"));
            self.line_end();
        }
    }

    fn write(stream: &Stream) -> (String, Vec<Placed>) {
        let mut w = Writer {
            text: String::new(),
            nl: if stream.crlf { "\r\n" } else { "\n" },
            placed: Vec::new(),
            anchors: 0,
        };
        if stream.bom {
            w.text.push('\u{feff}');
        }
        for (d, doc) in stream.docs.iter().enumerate() {
            if d > 0 {
                w.text.push_str("---");
                w.line_end();
            }
            w.text.push_str("# document");
            w.line_end();
            for (i, s) in doc.iter().enumerate() {
                w.shape(&format!("d{d}k{i}"), s);
            }
        }
        if !stream.final_newline {
            let trimmed = w.text.trim_end_matches(['\r', '\n']).len();
            w.text.truncate(trimmed);
        }
        (w.text, w.placed)
    }
}

/// The scalar libyaml reads at `path` in any document, as text.
fn libyaml_value(text: &str, path: &[PathStep]) -> Option<String> {
    use serde::Deserialize as _;
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let mut v = Value::deserialize(doc).ok()?;
        let mut found = true;
        for step in path {
            let next = match (step, &v) {
                (PathStep::Key(k), Value::Mapping(m)) => m.get(k.as_str()).cloned(),
                (PathStep::Index(i), Value::Sequence(s)) => s.get(*i).cloned(),
                _ => None,
            };
            match next {
                Some(n) => v = n,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found {
            if let Value::Tagged(t) = v {
                v = t.value;
            }
            return match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => Some(format!("{other:?}")),
            };
        }
    }
    None
}

fn new_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "v[0-9]{1,3}",
        "[1-9][0-9]{0,2}",
        "[0-9]{4}\\.[0-9]{2}\\.[0-9]{2}-rc[0-9]",
        "[a-z]{1,3}[ #:,'\"\\[\\]{}&*!\\\\]{1,2}[a-z0-9]{1,3}",
        "(true|null|~|-x|#x|x:)",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_edit_changes_the_target_token_and_no_other_byte(
        stream in stream(),
        pick in any::<prop::sample::Index>(),
        new in new_value(),
    ) {
        let (text, placed) = Writer::write(&stream);
        // The generator's own check: libyaml reads every leaf as written.
        for p in &placed {
            prop_assert_eq!(libyaml_value(&text, &p.path), Some(p.value.clone()), "{}\n{}", p.selector, text);
        }
        let target = &placed[pick.index(placed.len())];
        let selector = target.selector.parse().expect("selector");
        let edit = set_value("gen.yaml", &text, &selector, &new)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- text:\n{text}")))?;
        let (start, end) = target.token;
        prop_assert!(edit.text.len() >= start + (text.len() - end));
        prop_assert_eq!(&edit.text[..start], &text[..start], "bytes before the token changed");
        prop_assert_eq!(&edit.text[edit.text.len() - (text.len() - end)..], &text[end..], "bytes after the token changed\n{}", edit.text);
        prop_assert_eq!(edit.changed, new != target.value);
        prop_assert_eq!(get_value("gen.yaml", &edit.text, &selector).expect("reads back"), new.clone());
        prop_assert_eq!(libyaml_value(&edit.text, &target.path), Some(new.clone()), "libyaml disagrees:\n{}", edit.text);
        for p in placed.iter().filter(|p| p.selector != target.selector) {
            prop_assert_eq!(libyaml_value(&edit.text, &p.path), Some(p.value.clone()), "{} changed", p.selector);
        }
    }
}
