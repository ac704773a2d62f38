//! sluice: closes the loop from new labelled data to a model serving all traffic, on
//! Kubernetes. The host observes and acts; sandboxed WebAssembly policies decide.
//!
//! Dependency direction: [`decision`] (plain data, no I/O) ← [`policy`] (wasmtime)
//! ← [`cli`] and the binary.

pub mod admin;
pub mod argocd;
pub mod cli;
pub mod clock;
pub mod config;
pub mod controller;
pub mod daemon;
pub mod datasource;
pub mod decision;
pub mod executor;
pub mod failpoint;
pub mod gitops;
pub mod http;
pub mod kube_client;
pub mod leader;
pub mod metrics;
pub mod metrics_source;
pub mod notify;
pub mod policy;
pub mod resource;
pub mod rollout;
pub mod secret;
pub mod server;
pub mod stock;
pub mod store;
pub mod traffic;

/// An error and its sources on one line (`what failed: why: deeper cause`), for logs,
/// `sluice status` and run reasons.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
