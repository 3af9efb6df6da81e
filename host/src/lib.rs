//! Ferry's host: what is left above the library crates until it is split further (issue 25):
//! deployments (routing, breakers, live revisions, deployer targets), monitoring (metrics,
//! the prediction log, live metrics, alerts) and the HTTP server, under the `ferry` binary.
//!
//! It builds on `ferry-core`, `ferry-pipeline`, `ferry-kit`, `ferry-runtime` and
//! `ferry-registry`. Without its `registry` feature it is the edge build, which serves a bundle
//! with `ferry-core` alone. Start reading from `server::router`.

#[cfg(feature = "registry")]
pub mod deploy;
pub mod ids;
pub mod monitor;
pub mod secret;
pub mod server;

pub use ferry_runtime::manifest;
pub use ferry_runtime::{self as runtime, CONTRACT_VERSION, Manifest, PluginKind};
pub use runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};
pub use runtime::{LoadError, LoadOptions, Plugin, PluginError, Runtime, RuntimeOptions};
