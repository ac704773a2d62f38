//! Builds the WebAssembly guests — the stock policies and the test guests — for
//! `wasm32-wasip2` with a nested cargo, the way wasmtime builds its test programs.
//! Each guest is built on its own because a policy module must embed exactly one
//! world (see `sdk/Cargo.toml`), so the SDK's world features must not be unified.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `(package, crate file stem)` of every guest.
const GUESTS: [(&str, &str); 6] = [
    ("threshold-retrain", "threshold_retrain"),
    ("metric-gate", "metric_gate"),
    ("stat-regression", "stat_regression"),
    ("canary-steps", "canary_steps"),
    ("hostile-guest", "hostile_guest"),
    ("bare-guest", "bare_guest"),
];

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .expect("host/ is inside the workspace")
        .to_owned();
    for dir in [
        "policies",
        "sdk",
        "wit",
        "tests/guests",
        "host/stats/src",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("guests");
    std::fs::create_dir_all(&out).expect("create OUT_DIR/guests");
    require_target();

    let target_dir = root.join("target").join("wasm-guests");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for (package, stem) in GUESTS {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root)
            .args([
                "build",
                "--release",
                "--locked",
                "--target",
                TARGET,
                "-p",
                package,
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        for var in [
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_TARGET",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "RUSTFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            cmd.env_remove(var);
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
        assert!(
            status.success(),
            "building the guest `{package}` for {TARGET} failed (see the output above)"
        );
        let built = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{stem}.wasm"));
        let dest = out.join(format!("{package}.wasm"));
        std::fs::copy(&built, &dest)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", built.display(), dest.display()));
    }
    println!("cargo:rustc-env=SLUICE_GUEST_DIR={}", out.display());
}

/// Fails the build with the exact command to run when the wasm target is missing.
fn require_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()));
    let installed = sysroot
        .as_deref()
        .map(|s| s.join("lib/rustlib").join(TARGET))
        .is_some_and(|p: PathBuf| Path::is_dir(&p));
    if !installed {
        panic!(
            "\n\nThe Rust target `{TARGET}` is not installed; sluice builds its policies for it.\n\
             Install it with:\n\n    rustup target add {TARGET}\n\n\
             (`scripts/setup.sh` does this and everything else the build and tests need.)\n"
        );
    }
}
