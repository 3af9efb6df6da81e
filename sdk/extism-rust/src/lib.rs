//! Ferry plugins as [Extism](https://extism.org) plugins, in Rust.
//!
//! An Extism plugin is a core WebAssembly module built with an Extism PDK. Ferry calls one
//! export per operation of the plugin's kind, in MessagePack or JSON ([`wire`]); a plugin
//! built with this crate reads both and answers in the encoding of the call. This crate
//! gives a Rust author what `ferry-sdk` gives: implement [`Plugin`] and the trait of the kind,
//! then export with the matching macro. Build with
//! `cargo build --release --target wasm32-unknown-unknown`.
//!
//! ```ignore
//! use ferry_extism_pdk::prelude::*;
//!
//! struct Scale;
//! impl Plugin for Scale {
//!     fn manifest() -> ManifestBuilder {
//!         ferry_extism_pdk::manifest!("scale").keywords(["scaling"])
//!     }
//! }
//! impl Transform for Scale { /* ... */ }
//! ferry_extism_pdk::export_transform!(Scale);
//! ```
//!
//! The traits, the manifest builder, the column access, the report builder and the helpers
//! are `ferry-sdk`'s own source files, compiled here against the wire types (which have the WIT types' names and
//! fields), so the two crates agree by construction: a plugin written for one builds with the
//! other by changing the crate it uses (`ferry plugin new --lang extism-rust` writes the Rust
//! templates that way). What differs is how a plugin reaches out: its HTTP goes through
//! [`http`], and it has files only when built for WASI preview 1 (`wasm32-wasip1`), where the
//! operator's directory grants are its allowed paths; built for `wasm32-unknown-unknown` it
//! has none.

#[path = "../../rust/src/batch.rs"]
mod batch;
#[path = "../../rust/src/config.rs"]
mod config;
#[path = "../../rust/src/error.rs"]
mod error;
mod export;
pub mod http;
#[path = "../../rust/src/kinds.rs"]
mod kinds;
pub mod log;
#[path = "../../rust/src/manifest.rs"]
mod manifest;
#[path = "../../rust/src/report.rs"]
mod report;
#[path = "../../rust/src/select.rs"]
mod select;
#[path = "../../rust/src/target.rs"]
pub mod target;
pub mod wire;

pub use batch::{BatchBuilder, ColumnView};
pub use config::parse_config;
pub use error::{Result, config_error, input_error, internal_error, unsupported};
pub use kinds::{
    AlertSink, Analyzer, Deployer, Model, Plugin, Predictor, Transform, Transformer, Validator,
};
pub use manifest::ManifestBuilder;
pub use report::ReportBuilder;
pub use select::{
    decode_state, encode_state, is_numeric, numeric_columns, replaced_columns, select_columns,
};
pub use wire::{
    Alert, Artifact, Batch, Capabilities, Column, ColumnData, DataType, Deployment, DeploymentPlan,
    DeploymentStatus, DirectoryRequest, Field, InputError, Limits, Manifest, ModelInfo,
    ModelOutput, PluginError, PluginKind, PluginRef, Report, Severity, Task, Violation,
    ViolationCount,
};

/// A schema: a batch's fields in order.
pub type Schema = Vec<Field>;

#[doc(hidden)]
pub mod __private {
    pub use crate::export::*;
}

/// Everything a plugin usually needs: the names of `ferry-sdk`'s prelude.
pub mod prelude {
    pub use crate::{
        AlertSink, Analyzer, Batch, BatchBuilder, Column, ColumnData, ColumnView, DataType,
        Deployer, Field, ManifestBuilder, Model, Plugin, PluginError, Predictor, Report,
        ReportBuilder, Result, Schema, Transform, Transformer, Validator, config_error,
        decode_state, encode_state, input_error, internal_error, is_numeric, numeric_columns,
        parse_config, replaced_columns, select_columns, unsupported,
    };
}
