//! A policy author's build mistake gets one sentence that says what to do: building two
//! policies of different decision points in one cargo invocation merges their SDK world
//! features, and the SDK's build script refuses that before rustc runs.

use std::path::Path;
use std::process::Command;

#[test]
fn two_worlds_in_one_wasm_build_fail_with_what_to_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--locked",
            "--offline",
            "--target",
            "wasm32-wasip2",
            "-p",
            "threshold-retrain",
            "-p",
            "stat-regression",
            "--target-dir",
        ])
        // The guests' own target directory: their dependencies are already built there.
        .arg(root.join("target").join("wasm-guests"));
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the merged build must fail: {stderr}"
    );
    assert!(
        stderr.contains(
            "this WebAssembly build enables the world features `retrain` and `regression`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cargo build --release --target wasm32-wasip2 -p <policy>"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("defined multiple times"),
        "rustc never sees the merged features: {stderr}"
    );
}
