//! The statistics sluice offers every policy as host functions (`sluice:policy/stats`).
//!
//! Pure functions over `&[f64]`, over the distributions of [`distribution`]. The same code
//! serves the host's WebAssembly imports and the policy SDK's native build, so a policy's
//! unit tests see exactly the numbers it will see in production.
//!
//! # Non-finite and small inputs
//! Every function ignores NaN and ±infinity and reports how many it ignored. Results
//! that cannot be computed (too few values, zero variance) are NaN — never 0 — so a
//! `p_value < alpha` check on them is false. The reference values in the tests come
//! from SciPy/NumPy (`host/stats/tests/fixtures/generate.py`).

//!
//! # Features
//! `compute` (default) provides the functions. Without it the crate is `no_std` and
//! holds only the result types, which is what a `no_std` policy module needs.

#![cfg_attr(not(feature = "compute"), no_std)]

#[cfg(feature = "compute")]
mod compute;
#[cfg(feature = "compute")]
pub mod distribution;

#[cfg(feature = "compute")]
pub use compute::*;

/// Which way a two-sample test looks. Tests compare group `a` with group `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    /// `a` and `b` differ in either direction.
    TwoSided,
    /// `a` is smaller than `b`.
    Less,
    /// `a` is greater than `b`.
    Greater,
}

/// Descriptive statistics of the finite values of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of finite values used.
    pub n: u32,
    /// Number of non-finite values ignored.
    pub non_finite: u32,
    /// Mean; NaN when `n == 0`.
    pub mean: f64,
    /// Sample standard deviation (n − 1); NaN when `n < 2`.
    pub sd: f64,
    /// Minimum; NaN when `n == 0`.
    pub min: f64,
    /// Maximum; NaN when `n == 0`.
    pub max: f64,
    /// Median (linear interpolation, NumPy's default).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Outcome of a two-sample test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// Welch's t, or Mann–Whitney's U of group `a`.
    pub statistic: f64,
    /// p-value for the requested alternative; NaN when not computable.
    pub p_value: f64,
    /// Welch–Satterthwaite degrees of freedom; NaN for Mann–Whitney.
    pub df: f64,
    /// Finite values used from `a`.
    pub n_a: u32,
    /// Finite values used from `b`.
    pub n_b: u32,
    /// Non-finite values ignored across both groups.
    pub dropped: u32,
    /// Whether the p-value is exact rather than asymptotic.
    pub exact: bool,
}

/// A confidence interval for a mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Sample mean.
    pub mean: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// How [`compare`] filters outliers out of each window before comparing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutlierFilter {
    /// Keep every finite value.
    None,
    /// Tukey's fences with factor `k`, as `filter_outliers_iqr`.
    Iqr(f64),
    /// Robust z-score at most `threshold`, as `filter_outliers_mad`.
    Mad(f64),
}

/// Which two-sample test [`compare`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Welch's unequal-variance t-test.
    Welch,
    /// Mann–Whitney U.
    MannWhitney,
}

/// What [`compare`] found: both windows after filtering, the test and the effect size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Summary of `a`'s values that survived the filter; its `non_finite` counts the
    /// non-finite values of `a` (never used).
    pub a: Summary,
    /// The same for `b`.
    pub b: Summary,
    /// Finite values of `a` the filter removed.
    pub outliers_a: u32,
    /// Finite values of `b` the filter removed.
    pub outliers_b: u32,
    /// The test of filtered `a` against filtered `b`.
    pub significance: TestResult,
    /// Cohen's d of filtered `a` against filtered `b`.
    pub cohens_d: f64,
}
