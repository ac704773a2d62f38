//! The hostile-module suite of `sandbox.rs` again on baseline (Winch) code, which
//! runs every freshly swapped module until its optimized build is ready: the limits
//! must hold for it too.

mod common;

const BUILD: sluice::policy::Build = sluice::policy::Build::Baseline;

include!("sandbox/suite.rs");
