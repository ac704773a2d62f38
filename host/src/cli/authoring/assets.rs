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
pub const JS_SDK: [(&str, &str); 4] = [
    ("index.js", include_str!("../../../../sdk/js/index.js")),
    ("index.d.ts", include_str!("../../../../sdk/js/index.d.ts")),
    // Generated from the WIT; `typescript`'s test keeps it so.
    ("wit.d.ts", include_str!("../../../../sdk/js/wit.d.ts")),
    (
        "package.json",
        include_str!("../../../../sdk/js/package.json"),
    ),
];

#[cfg(test)]
mod tests {
    use super::super::typescript::camel;
    use super::*;

    /// The WIT's types are declared in the generated `wit.d.ts` (see `typescript`);
    /// the SDK's own `stats` wrapper is written by hand, so this keeps it from falling
    /// behind the WIT: every function of the `stats` interface must appear in
    /// `index.d.ts` under its JavaScript name.
    #[test]
    fn the_typescript_stats_wrapper_covers_every_wit_stats_function() {
        let dts = JS_SDK
            .iter()
            .find(|(name, _)| *name == "index.d.ts")
            .map(|(_, text)| *text)
            .expect("index.d.ts is embedded");
        let (_, stats) = WIT
            .iter()
            .find(|(name, _)| *name == "stats.wit")
            .expect("stats.wit is embedded");
        let mut functions = 0;
        let mut missing = Vec::new();
        for line in stats.lines().map(str::trim) {
            let Some((name, _)) = line.split_once(": func(") else {
                continue;
            };
            functions += 1;
            let js = camel(name);
            if !dts.contains(&format!("{js}(")) {
                missing.push(format!("`{name}` as `{js}(`"));
            }
        }
        assert!(functions >= 9, "stats.wit has {functions} functions");
        assert!(
            missing.is_empty(),
            "sdk/js/index.d.ts lacks the stats functions {}",
            missing.join(", ")
        );
    }
}
