//! The stock policies, built from `policies/` by the build script and embedded in the
//! binary so `sluice demo` and `sluice policy` work with nothing else installed.

use crate::decision::DecisionPoint;

/// One stock policy.
#[derive(Debug, Clone, Copy)]
pub struct StockPolicy {
    /// Its name (and module name in a policy directory).
    pub name: &'static str,
    /// The decision point it serves.
    pub point: DecisionPoint,
    /// The component's bytes.
    pub wasm: &'static [u8],
    /// Its golden cases (`policies/<name>/cases.yaml`).
    pub cases: &'static str,
}

macro_rules! stock {
    ($name:literal, $point:expr) => {
        StockPolicy {
            name: $name,
            point: $point,
            wasm: include_bytes!(concat!(env!("SLUICE_GUEST_DIR"), "/", $name, ".wasm")),
            cases: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../policies/",
                $name,
                "/cases.yaml"
            )),
        }
    };
}

/// Every stock policy.
pub const STOCK_POLICIES: [StockPolicy; 4] = [
    stock!("threshold-retrain", DecisionPoint::Retrain),
    stock!("metric-gate", DecisionPoint::Promotion),
    stock!("stat-regression", DecisionPoint::Regression),
    stock!("canary-steps", DecisionPoint::Rollout),
];

/// The stock policy called `name`.
pub fn find(name: &str) -> Option<&'static StockPolicy> {
    STOCK_POLICIES.iter().find(|p| p.name == name)
}

/// Directory holding the built guests (stock policies and test guests), for tests
/// and benchmarks.
pub const GUEST_DIR: &str = env!("SLUICE_GUEST_DIR");
