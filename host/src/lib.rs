//! sluice: closes the loop from new labelled data to a model serving all traffic, on
//! Kubernetes. The host observes and acts; sandboxed WebAssembly policies decide.
//!
//! Dependency direction: [`decision`] (plain data, no I/O) ← [`policy`] (wasmtime)
//! ← [`cli`] and the binary.

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
pub mod metrics;
pub mod policy;
pub mod secret;
pub mod server;
pub mod stock;
pub mod store;
