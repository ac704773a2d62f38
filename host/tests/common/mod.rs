//! Helpers shared by the host's integration tests.
#![allow(dead_code, reason = "each test binary uses a subset")]

pub mod fake_argo;
pub mod fake_kube;
pub mod fake_kube_objects;
pub mod harness;
pub mod http;
pub mod process;
pub mod prometheus;
pub mod services;
pub mod wasm_bytes;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use sluice::policy::{EngineSettings, PolicyEngine};

/// One engine per test binary: compiled modules are cached in it.
pub fn engine() -> Arc<PolicyEngine> {
    static ENGINE: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| PolicyEngine::new(EngineSettings::default()).expect("engine"))
        .clone()
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Path of a guest built by the build script (`threshold-retrain`, `hostile-guest`, …).
pub fn guest(name: &str) -> PathBuf {
    PathBuf::from(sluice::stock::GUEST_DIR).join(format!("{name}.wasm"))
}
