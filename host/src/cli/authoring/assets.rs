//! The files `sluice policy build` and `sluice policy new` write: the WIT this binary
//! speaks and the Python and JavaScript SDKs, embedded so a build always matches the
//! host that will load the module.

/// `(file name, contents)` of the WIT package.
pub const WIT: [(&str, &str); 4] = [
    ("types.wit", include_str!("../../../../wit/types.wit")),
    ("stats.wit", include_str!("../../../../wit/stats.wit")),
    (
        "decisions.wit",
        include_str!("../../../../wit/decisions.wit"),
    ),
    ("worlds.wit", include_str!("../../../../wit/worlds.wit")),
];

/// `(path under the Python path, contents)` of the `sluice_policy` package.
pub const PYTHON_SDK: [(&str, &str); 8] = [
    (
        "sluice_policy/__init__.py",
        include_str!("../../../../sdk/python/sluice_policy/__init__.py"),
    ),
    (
        "sluice_policy/_wit.py",
        include_str!("../../../../sdk/python/sluice_policy/_wit.py"),
    ),
    (
        "sluice_policy/_format.py",
        include_str!("../../../../sdk/python/sluice_policy/_format.py"),
    ),
    (
        "sluice_policy/_params.py",
        include_str!("../../../../sdk/python/sluice_policy/_params.py"),
    ),
    (
        "sluice_policy/_policy.py",
        include_str!("../../../../sdk/python/sluice_policy/_policy.py"),
    ),
    (
        "sluice_policy/_decisions.py",
        include_str!("../../../../sdk/python/sluice_policy/_decisions.py"),
    ),
    (
        "sluice_policy/stats.py",
        include_str!("../../../../sdk/python/sluice_policy/stats.py"),
    ),
    (
        "sluice_policy/log.py",
        include_str!("../../../../sdk/python/sluice_policy/log.py"),
    ),
];

/// `(file name, contents)` of the `sluice-policy` JavaScript package.
pub const JS_SDK: [(&str, &str); 3] = [
    ("index.js", include_str!("../../../../sdk/js/index.js")),
    ("index.d.ts", include_str!("../../../../sdk/js/index.d.ts")),
    (
        "package.json",
        include_str!("../../../../sdk/js/package.json"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `kebab-case` → `camelCase`, as componentize-js names fields and functions.
    fn camel(kebab: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        for c in kebab.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The TypeScript declarations are written by hand; this keeps them from falling
    /// behind the WIT: every record field, every enum and variant case and every
    /// `stats` function of the WIT must appear in `index.d.ts` under its JavaScript name.
    #[test]
    fn the_typescript_declarations_cover_every_wit_field_case_and_function() {
        let dts = JS_SDK
            .iter()
            .find(|(name, _)| *name == "index.d.ts")
            .map(|(_, text)| *text)
            .expect("index.d.ts is embedded");
        let mut missing = Vec::new();
        for (file, text) in WIT {
            let mut block: Option<&str> = None;
            for line in text.lines().map(str::trim) {
                if line.starts_with("///") || line.is_empty() {
                    continue;
                }
                for kind in ["record", "enum", "variant"] {
                    if let Some(rest) = line.strip_prefix(kind).and_then(|r| r.strip_prefix(' '))
                        && rest.ends_with('{')
                    {
                        block = Some(kind);
                    }
                }
                if line == "}" {
                    block = None;
                    continue;
                }
                if let Some((name, _)) = line.split_once(": func(") {
                    let js = camel(name);
                    if file == "stats.wit" && !dts.contains(&format!("{js}(")) {
                        missing.push(format!("{file}: function `{name}` as `{js}(`"));
                    }
                    continue;
                }
                let Some(kind) = block else { continue };
                if line.ends_with('{') {
                    continue;
                }
                let item = line.trim_end_matches(',');
                let (name, is_field) = match kind {
                    "record" => (item.split_once(':').map_or(item, |(n, _)| n), true),
                    _ => (item.split_once('(').map_or(item, |(n, _)| n), false),
                };
                let found = if is_field {
                    let js = camel(name);
                    dts.contains(&format!("{js}:")) || dts.contains(&format!("{js}?:"))
                } else {
                    dts.contains(&format!("'{name}'"))
                };
                if !found {
                    missing.push(format!("{file}: {kind} item `{name}`"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "sdk/js/index.d.ts lacks: {}",
            missing.join("; ")
        );
    }
}
