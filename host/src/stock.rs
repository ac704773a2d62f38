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

/// How configs and commands name a stock policy: `stock:<name>`.
pub const PREFIX: &str = "stock:";

/// A `stock:<name>` reference to a policy that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no stock policy `{name}`; stock policies are {}", STOCK_POLICIES.iter().map(|p| p.name).collect::<Vec<_>>().join(", "))]
pub struct UnknownStock {
    /// The name asked for.
    pub name: String,
}

impl UnknownStock {
    /// As the I/O error a module loader reports for a source it cannot read.
    pub fn into_load_error(self, source_name: &str) -> crate::policy::LoadError {
        crate::policy::LoadError::Read {
            source_name: source_name.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, self.to_string()),
        }
    }
}

/// Whether the module reference `module` names a stock policy (`stock:<name>`).
pub fn is_reference(module: &str) -> bool {
    module.starts_with(PREFIX)
}

/// The stock policy `module` refers to: `None` when it is not a `stock:` reference.
pub fn resolve(module: &str) -> Option<Result<&'static StockPolicy, UnknownStock>> {
    let name = module.strip_prefix(PREFIX)?;
    Some(find(name).ok_or_else(|| UnknownStock {
        name: name.to_owned(),
    }))
}

/// The stock policy called `name`.
pub fn find(name: &str) -> Option<&'static StockPolicy> {
    STOCK_POLICIES.iter().find(|p| p.name == name)
}

/// Directory holding the built guests (stock policies and test guests), for tests
/// and benchmarks.
pub const GUEST_DIR: &str = env!("SLUICE_GUEST_DIR");
