//! Checks the world features of a WebAssembly build before rustc runs, so building two
//! policies of different decision points in one cargo invocation (whose features cargo
//! merges) fails with one sentence saying what to do instead of a page of duplicate
//! definitions from the generated bindings. Native builds (policy unit tests) may merge
//! worlds freely: they generate no bindings.

use std::env;

const WORLDS: [&str; 4] = ["retrain", "promotion", "regression", "rollout"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    let enabled: Vec<&str> = WORLDS
        .into_iter()
        .filter(|w| env::var_os(format!("CARGO_FEATURE_{}", w.to_uppercase())).is_some())
        .collect();
    match enabled.as_slice() {
        [_] => {}
        [] => fail(
            "this WebAssembly build enables none of the world features; add exactly one of \
             `retrain`, `promotion`, `regression`, `rollout` to the features of the \
             sluice-policy-sdk dependency in the policy's Cargo.toml"
                .to_owned(),
        ),
        several => fail(format!(
            "this WebAssembly build enables the world features {}, but a policy module \
             implements exactly one decision point. If each policy's Cargo.toml names one \
             world, cargo merged them because it built several policies in one invocation \
             (for example `cargo build --workspace --target wasm32-wasip2`): build each \
             policy on its own with `cargo build --release --target wasm32-wasip2 -p <policy>`",
            several
                .iter()
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

fn fail(message: String) -> ! {
    eprintln!("\nsluice-policy-sdk: {message}\n");
    std::process::exit(1);
}
