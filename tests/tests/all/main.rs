//! Ferry's integration tests as one test binary, one module per scenario (as wasmtime's
//! `tests/all`): each module starts real servers and plugins built from source; run one
//! scenario with `cargo test -p ferry-tests --test all -- MODULE::`.

mod adapters;
mod attach;
mod batch;
mod batching;
mod bodies;
mod builtins;
mod cache;
mod conformance;
mod contract;
mod deployers;
mod deployments;
mod determinism;
mod edge;
mod extism;
mod load;
mod log_cap;
mod parity;
mod paths;
mod pipeline;
mod plugins;
mod registry_cli;
mod remote;
mod replicas;
mod run_files;
mod sandbox;
mod server;
mod serving;
mod smtp;
mod snapshots;
mod streaming;
mod tour;
mod trust;
