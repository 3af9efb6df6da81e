//! Ferry's host: the sandboxed WebAssembly plugin runtime, data handling, and the pieces
//! the `ferry` binary is made of.

pub mod builtin;
#[cfg(feature = "registry")]
pub mod client;
pub mod config;
pub mod conformance;
pub mod data;
#[cfg(feature = "registry")]
pub mod deploy;
pub mod ids;
pub mod lockfile;
pub mod monitor;
pub mod pipeline;
#[cfg(feature = "registry")]
pub mod publish;
pub mod scaffold;
pub mod secret;
pub mod server;
#[cfg(feature = "registry")]
pub mod store;

pub use ferry_runtime::manifest;
pub use ferry_runtime::{self as runtime, CONTRACT_VERSION, Manifest, PluginKind};
pub use runtime::bindings::types::{Batch, Column, ColumnData, DataType, Field};
pub use runtime::{LoadError, LoadOptions, Plugin, PluginError, Runtime, RuntimeOptions};
