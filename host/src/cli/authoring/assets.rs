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
