//! Ferry's host: the HTTP server (`server`: axum routes, auth, admission, the OpenAPI
//! document, the MLflow routes and the NATS stream workers) under the `ferry` binary. It
//! turns the library crates' domain answers and errors into HTTP, and holds no domain logic of
//! its own: deployments and monitoring are `ferry-ops`, training and the registry's pipelines
//! `ferry-pipeline`, publishing and the conformance kit `ferry-kit`, the data path and serving
//! `ferry-core`, the sandbox `ferry-runtime`.
//!
//! It shares its HTTP pieces and the edge commands with `ferry-edge`, the edge build, which
//! depends on none of the crates above `ferry-core`. Start reading from `server::router`.

pub use ferry_ops::{deploy, monitor};
pub mod secret;
pub mod server;

pub use ferry_runtime::manifest;
pub use ferry_runtime::{self as runtime, CONTRACT_VERSION, Manifest, PluginKind};
pub use runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};
pub use runtime::{LoadError, LoadOptions, Plugin, PluginError, Runtime, RuntimeOptions};
