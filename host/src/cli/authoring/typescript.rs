//! The TypeScript declarations of sluice's WIT types (`sdk/js/wit.d.ts`), generated
//! from the WIT the binary embeds, as componentize-js maps it to JavaScript. The file
//! is committed so editors see it without a build; the test below fails when it
//! differs from what the WIT generates (`SLUICE_BLESS=1` rewrites it).
//!
//! The mapping: records are interfaces with camelCase fields (an `option<T>` field is
//! optional), variants `{ tag, val }` unions, enums unions of their case names, lists of
//! numbers typed arrays or arrays, 64-bit integers `bigint`, other numbers `number`.
//! A type's name is its WIT name in PascalCase; a name that several interfaces declare
//! (`context`, `decision`) is prefixed with its interface (`decide-retrain` →
//! `RetrainContext`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use wit_parser::{Docs, Resolve, Type, TypeDefKind, TypeId, TypeOwner};

use super::assets::WIT;

/// Generates the declarations of every type of the embedded WIT package.
///
/// # Errors
/// The WIT does not parse or uses a type componentize-js maps in a way this
/// generator does not write (resources, flags, futures, streams, maps).
pub fn declarations() -> Result<String, String> {
    let mut sources = wit_parser::SourceMap::new();
    for (name, text) in WIT {
        sources.push(Path::new(name), text);
    }
    let group = sources.parse().map_err(|(_, e)| e.to_string())?;
    let mut resolve = Resolve::new();
    let package = resolve.push_group(group).map_err(|e| e.to_string())?;
    let names = Names::of(&resolve);
    let pkg = &resolve.packages[package];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// The types of sluice's WIT (package {}), as componentize-js maps them to\n\
         // JavaScript. Generated from wit/*.wit by host/src/cli/authoring/typescript.rs;\n\
         // do not edit. Regenerate: SLUICE_BLESS=1 cargo test -p sluice --lib typescript",
        pkg.name
    );
    let _ = writeln!(
        out,
        "//\n// Records are objects with camelCase fields (an `option<T>` field may be absent),\n\
         // variants `{{ tag, val }}`, enums their case names as strings, lists of numbers\n\
         // typed arrays (arrays are accepted too), u64/s64 `bigint`, other numbers `number`."
    );
    for (iface_name, &iface) in &pkg.interfaces {
        let iface = &resolve.interfaces[iface];
        let _ = writeln!(out, "\n// ---- interface {iface_name} ----");
        for &id in iface.types.values() {
            if Names::use_target(&resolve, id).is_some() {
                continue;
            }
            out.push('\n');
            declare(&resolve, &names, id, &mut out)?;
        }
    }
    Ok(out)
}

/// TypeScript names of the package's named types.
struct Names(HashMap<TypeId, String>);

impl Names {
    fn of(resolve: &Resolve) -> Self {
        let mut count: HashMap<&str, usize> = HashMap::new();
        let declared: Vec<(TypeId, &str, &str)> = resolve
            .types
            .iter()
            .filter_map(|(id, def)| {
                let name = def.name.as_deref()?;
                let TypeOwner::Interface(owner) = def.owner else {
                    return None;
                };
                let iface = resolve.interfaces[owner].name.as_deref()?;
                Some((id, name, iface))
            })
            .filter(|(id, ..)| Self::use_target(resolve, *id).is_none())
            .collect();
        for (_, name, _) in &declared {
            *count.entry(name).or_default() += 1;
        }
        let map = declared
            .iter()
            .map(|&(id, name, iface)| {
                let ts = if count[name] > 1 {
                    let prefix = iface.strip_prefix("decide-").unwrap_or(iface);
                    format!("{}{}", pascal(prefix), pascal(name))
                } else {
                    pascal(name)
                };
                (id, ts)
            })
            .collect();
        Self(map)
    }

    /// The type a `use` brings into an interface stands for: a named alias of a type
    /// of the same name that another interface declares.
    fn use_target(resolve: &Resolve, id: TypeId) -> Option<TypeId> {
        let def = &resolve.types[id];
        let TypeDefKind::Type(Type::Id(target)) = def.kind else {
            return None;
        };
        let original = &resolve.types[target];
        (original.name == def.name && original.owner != def.owner).then_some(target)
    }

    fn get(&self, resolve: &Resolve, id: TypeId) -> Option<&str> {
        let id = Self::use_target(resolve, id).unwrap_or(id);
        self.0.get(&id).map(String::as_str)
    }
}

/// Writes the declaration of named type `id`.
fn declare(resolve: &Resolve, names: &Names, id: TypeId, out: &mut String) -> Result<(), String> {
    let def = &resolve.types[id];
    let name = names
        .get(resolve, id)
        .ok_or_else(|| format!("type {:?} has no name", def.name))?;
    doc(&def.docs, "", out);
    match &def.kind {
        TypeDefKind::Record(record) => {
            let _ = writeln!(out, "export interface {name} {{");
            for field in &record.fields {
                doc(&field.docs, "  ", out);
                let (optional, ty) = match field.ty {
                    Type::Id(inner) => match &resolve.types[inner].kind {
                        TypeDefKind::Option(t) if resolve.types[inner].name.is_none() => {
                            ("?", ts(resolve, names, t)?)
                        }
                        _ => ("", ts(resolve, names, &field.ty)?),
                    },
                    _ => ("", ts(resolve, names, &field.ty)?),
                };
                let _ = writeln!(out, "  {}{optional}: {ty};", camel(&field.name));
            }
            out.push_str("}\n");
        }
        TypeDefKind::Variant(variant) => {
            let _ = writeln!(out, "export type {name} =");
            for case in &variant.cases {
                doc(&case.docs, "  ", out);
                match &case.ty {
                    Some(t) => {
                        let val = ts(resolve, names, t)?;
                        let _ = writeln!(out, "  | {{ tag: '{}'; val: {val} }}", case.name);
                    }
                    None => {
                        let _ = writeln!(out, "  | {{ tag: '{}' }}", case.name);
                    }
                }
            }
            end_union(out);
        }
        TypeDefKind::Enum(e) => {
            let _ = writeln!(out, "export type {name} =");
            for case in &e.cases {
                doc(&case.docs, "  ", out);
                let _ = writeln!(out, "  | '{}'", case.name);
            }
            end_union(out);
        }
        _ => {
            let _ = writeln!(
                out,
                "export type {name} = {};",
                anonymous(resolve, names, id)?
            );
        }
    }
    Ok(())
}

/// Ends the union just written with a `;`.
fn end_union(out: &mut String) {
    if out.ends_with('\n') {
        out.pop();
    }
    out.push_str(";\n");
}

/// The TypeScript of a type reference.
fn ts(resolve: &Resolve, names: &Names, ty: &Type) -> Result<String, String> {
    Ok(match ty {
        Type::Bool => "boolean".into(),
        Type::U8 | Type::U16 | Type::U32 | Type::S8 | Type::S16 | Type::S32 => "number".into(),
        Type::F32 | Type::F64 => "number".into(),
        Type::U64 | Type::S64 => "bigint".into(),
        Type::Char | Type::String => "string".into(),
        Type::ErrorContext => return Err("error-context is not supported".into()),
        Type::Id(id) => match names.get(resolve, *id) {
            Some(name) => name.to_owned(),
            None => anonymous(resolve, names, *id)?,
        },
    })
}

/// The TypeScript of an unnamed (or aliased) type.
fn anonymous(resolve: &Resolve, names: &Names, id: TypeId) -> Result<String, String> {
    Ok(match &resolve.types[id].kind {
        TypeDefKind::Type(t) => ts(resolve, names, t)?,
        TypeDefKind::Option(t) => format!("{} | undefined", ts(resolve, names, t)?),
        TypeDefKind::List(t) => list(resolve, names, t)?,
        TypeDefKind::Tuple(tuple) => {
            let parts: Result<Vec<_>, _> =
                tuple.types.iter().map(|t| ts(resolve, names, t)).collect();
            format!("[{}]", parts?.join(", "))
        }
        TypeDefKind::Result(r) => {
            let side = |t: &Option<Type>| -> Result<String, String> {
                t.as_ref()
                    .map_or(Ok("undefined".into()), |t| ts(resolve, names, t))
            };
            format!(
                "{{ tag: 'ok'; val: {} }} | {{ tag: 'err'; val: {} }}",
                side(&r.ok)?,
                side(&r.err)?
            )
        }
        other => return Err(format!("{other:?} is not supported by this generator")),
    })
}

/// A list: numbers as the typed array componentize-js gives (or a plain array).
fn list(resolve: &Resolve, names: &Names, element: &Type) -> Result<String, String> {
    let typed = match element {
        Type::U8 => Some(("Uint8Array", "number")),
        Type::S8 => Some(("Int8Array", "number")),
        Type::U16 => Some(("Uint16Array", "number")),
        Type::S16 => Some(("Int16Array", "number")),
        Type::U32 => Some(("Uint32Array", "number")),
        Type::S32 => Some(("Int32Array", "number")),
        Type::U64 => Some(("BigUint64Array", "bigint")),
        Type::S64 => Some(("BigInt64Array", "bigint")),
        Type::F32 => Some(("Float32Array", "number")),
        Type::F64 => Some(("Float64Array", "number")),
        _ => None,
    };
    Ok(match typed {
        Some((array, item)) => format!("{array} | {item}[]"),
        None => {
            let inner = ts(resolve, names, element)?;
            if inner.contains(' ') {
                format!("Array<{inner}>")
            } else {
                format!("{inner}[]")
            }
        }
    })
}

/// Writes WIT doc comments as a JSDoc block.
fn doc(docs: &Docs, indent: &str, out: &mut String) {
    let Some(text) = docs.contents.as_deref() else {
        return;
    };
    let text = text.trim_end();
    if text.is_empty() {
        return;
    }
    if !text.contains('\n') {
        let _ = writeln!(out, "{indent}/** {} */", text.replace("*/", "*\\/"));
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    for line in text.lines() {
        let line = line.replace("*/", "*\\/");
        if line.is_empty() {
            let _ = writeln!(out, "{indent} *");
        } else {
            let _ = writeln!(out, "{indent} * {line}");
        }
    }
    let _ = writeln!(out, "{indent} */");
}

/// `kebab-case` → `PascalCase`.
fn pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

/// `kebab-case` → `camelCase`, as componentize-js names fields and functions.
pub(super) fn camel(kebab: &str) -> String {
    let p = pascal(kebab);
    let mut chars = p.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/js/wit.d.ts");

    #[test]
    fn the_committed_typescript_declarations_are_what_the_wit_generates() {
        let generated = declarations().expect("the WIT generates");
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(COMMITTED, &generated).expect("write sdk/js/wit.d.ts");
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "sdk/js/wit.d.ts differs from what wit/*.wit generates; regenerate it with \
             `SLUICE_BLESS=1 cargo test -p sluice --lib typescript` and review the diff"
        );
    }

    #[test]
    fn names_follow_componentize_js() {
        assert_eq!(pascal("decide-retrain"), "DecideRetrain");
        assert_eq!(
            camel("seconds-since-last-training"),
            "secondsSinceLastTraining"
        );
        assert_eq!(camel("p50"), "p50");
        assert_eq!(camel("n-a"), "nA");
    }
}
