//! Hostile modules on optimized (Cranelift) code: each attack ends within its limits,
//! yields the fail-safe with a clear error, and the very next decision on a good
//! module succeeds. The cases are in `sandbox/suite.rs`.

mod common;

const BUILD: sluice::policy::Build = sluice::policy::Build::Optimized;

include!("sandbox/suite.rs");
