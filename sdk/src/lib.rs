//! Write sluice decision policies as plain Rust functions.
//!
//! A policy answers one decision point — retrain, promotion, regression or rollout —
//! with a pure function of a typed context. This crate hides the WebAssembly
//! component plumbing (wit-bindgen): you write `describe` and `decide`, call one
//! `export_*!` macro, and build for `wasm32-wasip2`. In a native build (`cargo test`)
//! the same functions are ordinary Rust, and [`stats`] computes with the host's own
//! implementation, so unit tests see production numbers.
//!
//! # From `cargo new` to a `.wasm`
//!
//! ```text
//! cargo new --lib my-retrain && cd my-retrain
//! rustup target add wasm32-wasip2
//! ```
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! # exactly one world; no `std` (see "std or no_std" below)
//! sluice-policy-sdk = { path = "…/sdk", default-features = false, features = ["retrain"] }
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! #![cfg_attr(target_arch = "wasm32", no_std)]
//!
//! use sluice_policy_sdk::prelude::*;
//! use sluice_policy_sdk::{Description, ParamSpec, ParamValue, RetrainContext, RetrainDecision};
//!
//! pub fn describe() -> Description {
//!     Description {
//!         name: "every-hundred".into(),
//!         version: "1.0.0".into(),
//!         summary: "Train once 100 new samples arrived.".into(),
//!         params: vec![ParamSpec::optional(
//!             "min_new_samples",
//!             ParamValue::Integer(100),
//!             "New verified samples needed.",
//!         )],
//!     }
//! }
//!
//! pub fn decide(ctx: &RetrainContext) -> RetrainDecision {
//!     let needed: u64 = ctx.param_or("min_new_samples", 100);
//!     if ctx.run_active || ctx.new_samples < needed {
//!         RetrainDecision::Wait(format!("{} of {needed} new samples", ctx.new_samples))
//!     } else {
//!         RetrainDecision::Train { reason: "enough new samples".into(), args: vec![] }
//!     }
//! }
//!
//! sluice_policy_sdk::export_retrain!(describe: describe, decide: decide);
//! # fn main() {}
//! ```
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! sluice policy check target/wasm32-wasip2/release/my_retrain.wasm
//! ```
//!
//! With several policies in one workspace, build each for `wasm32-wasip2` with its own
//! `cargo build -p <policy>`: cargo merges the world features of packages it builds
//! together, and the SDK's build script refuses a WebAssembly build with none or
//! several worlds, saying so.
//!
//! # std or no_std
//!
//! With `default-features = false` and `#![cfg_attr(target_arch = "wasm32", no_std)]`
//! the module is built without Rust's std: the SDK provides the allocator (a bump
//! allocator — every decision runs in a fresh instance) and a panic handler that sends
//! the panic message to the host log. Such a module imports no WASI at all, is a third
//! of the size and is cheaper to instantiate and compile, so every decision is faster.
//! [`prelude`] brings `String`, `Vec`, `format!`, `vec!` and friends into scope in both
//! kinds of build. A policy that needs std keeps the default `std` feature; it then
//! gets sandboxed WASI (no files, network or environment).
//!
//! An optional third argument, `validate: my_validate` with signature
//! `fn(&Params) -> Vec<String>`, checks parameter values beyond their declared types;
//! each returned string is one problem, reported when a pipeline config is loaded.

#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]

extern crate alloc;

mod decisions;
pub mod log;
mod number;
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
mod runtime;
pub mod stats;
mod types;

pub use decisions::{
    Direction, MetricVerdict, MetricWindow, PromotionContext, PromotionDecision, RegressionContext,
    RegressionDecision, RetrainContext, RetrainDecision, RolloutContext, RolloutDecision,
    TrainingOutcome,
};
pub use number::{Fixed, MAX_DECIMALS, fixed};
pub use types::{
    Description, FromParam, Metric, ModelReport, ParamError, ParamSpec, ParamType, ParamValue,
    Params, Verdict,
};

/// What a policy needs in scope, in `std` and `no_std` builds alike:
/// `use sluice_policy_sdk::prelude::*;`.
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

/// Paths the export macros expand to. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
}

/// Parameter validation that accepts everything its types allow; the default for the
/// `export_*!` macros.
pub fn no_extra_validation(_: &Params) -> alloc::vec::Vec<alloc::string::String> {
    alloc::vec::Vec::new()
}

/// The generated bindings for the world selected by the crate feature (`build.rs`
/// refuses a WebAssembly build with none or several).
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
#[allow(
    missing_docs,
    clippy::all,
    unsafe_code,
    reason = "generated by wit-bindgen"
)]
pub mod bindings {
    #[cfg(feature = "retrain")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "retrain",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "sluice_policy_sdk::bindings",
    });
    #[cfg(feature = "promotion")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "promotion",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "sluice_policy_sdk::bindings",
    });
    #[cfg(feature = "regression")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "regression",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "sluice_policy_sdk::bindings",
    });
    #[cfg(feature = "rollout")]
    wit_bindgen::generate!({
        path: "../wit",
        world: "rollout",
        pub_export_macro: true,
        export_macro_name: "export_world",
        default_bindings_module: "sluice_policy_sdk::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod glue;

/// Shared expansion of the `export_*!` macros. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_policy {
    ($interface:ident, $glue:ident, $describe:path, $decide:path, $validate:path) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Export;
            impl $crate::bindings::exports::sluice::policy::self_description::Guest for Export {
                fn describe() -> $crate::bindings::sluice::policy::types::Description {
                    $crate::glue::describe($describe())
                }
                fn validate_params(
                    params: $crate::__private::Vec<$crate::bindings::sluice::policy::types::Param>,
                ) -> $crate::__private::Vec<$crate::__private::String> {
                    $crate::glue::validate(params, $validate)
                }
            }
            impl $crate::bindings::exports::sluice::policy::$interface::Guest for Export {
                fn decide(
                    ctx: $crate::bindings::exports::sluice::policy::$interface::Context,
                ) -> $crate::bindings::exports::sluice::policy::$interface::Decision {
                    $crate::glue::$glue(ctx, $decide)
                }
            }
    $crate::bindings::export_world!(Export with_types_in $crate::bindings);
        };
    };
}

/// Exports a retrain policy: `export_retrain!(describe: f, decide: g [, validate: h])`
/// with `f: fn() -> Description`, `g: fn(&RetrainContext) -> RetrainDecision` and
/// `h: fn(&Params) -> Vec<String>`. Needs the `retrain` feature. Expands to nothing in
/// native builds.
#[macro_export]
macro_rules! export_retrain {
    (describe: $d:path, decide: $f:path $(,)?) => {
        $crate::export_retrain!(describe: $d, decide: $f, validate: $crate::no_extra_validation);
    };
    (describe: $d:path, decide: $f:path, validate: $v:path $(,)?) => {
        $crate::__export_policy!(decide_retrain, decide_retrain, $d, $f, $v);
    };
}

/// Exports a promotion policy; see [`export_retrain!`]. Needs the `promotion` feature.
#[macro_export]
macro_rules! export_promotion {
    (describe: $d:path, decide: $f:path $(,)?) => {
        $crate::export_promotion!(describe: $d, decide: $f, validate: $crate::no_extra_validation);
    };
    (describe: $d:path, decide: $f:path, validate: $v:path $(,)?) => {
        $crate::__export_policy!(decide_promotion, decide_promotion, $d, $f, $v);
    };
}

/// Exports a regression policy; see [`export_retrain!`]. Needs the `regression` feature.
#[macro_export]
macro_rules! export_regression {
    (describe: $d:path, decide: $f:path $(,)?) => {
        $crate::export_regression!(describe: $d, decide: $f, validate: $crate::no_extra_validation);
    };
    (describe: $d:path, decide: $f:path, validate: $v:path $(,)?) => {
        $crate::__export_policy!(decide_regression, decide_regression, $d, $f, $v);
    };
}

/// Exports a rollout policy; see [`export_retrain!`]. Needs the `rollout` feature.
#[macro_export]
macro_rules! export_rollout {
    (describe: $d:path, decide: $f:path $(,)?) => {
        $crate::export_rollout!(describe: $d, decide: $f, validate: $crate::no_extra_validation);
    };
    (describe: $d:path, decide: $f:path, validate: $v:path $(,)?) => {
        $crate::__export_policy!(decide_rollout, decide_rollout, $d, $f, $v);
    };
}
