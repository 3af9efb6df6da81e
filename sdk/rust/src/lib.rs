//! The Rust SDK for Ferry plugins.
//!
//! A plugin implements [`Plugin`] (its manifest) and the trait of its kind ([`Validator`],
//! [`Transform`], [`Model`], [`Deployer`] or [`AlertSink`]), then exports itself with the
//! matching macro ([`export_validator!`], [`export_transform!`], [`export_model!`],
//! [`export_deployer!`], [`export_alert_sink!`]). Build it with
//! `cargo build --release --target wasm32-wasip2`: the result is a component the `ferry` host
//! loads. Plugin code never touches the raw WIT bindings.
//!
//! ```ignore
//! use ferry_sdk::prelude::*;
//!
//! struct Scale;
//! impl Plugin for Scale {
//!     fn manifest() -> ManifestBuilder {
//!         ferry_sdk::manifest!("scale").keywords(["scaling"])
//!     }
//! }
//! impl Transform for Scale { /* ... */ }
//! ferry_sdk::export_transform!(Scale);
//! ```

mod batch;
mod config;
mod error;
pub mod http;
mod kinds;
pub mod log;
pub mod mail;
mod manifest;
mod report;
mod select;
pub mod stats;
pub mod target;

#[allow(missing_docs, clippy::all)]
mod bindings {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

/// The host functions every plugin may call (`ferry:plugin/host`).
pub use bindings::ferry::plugin::host;
/// The shared WIT types (`ferry:plugin/types`).
pub use bindings::ferry::plugin::types;

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
pub use types::{
    Alert, Artifact, Batch, Capabilities, Column, ColumnData, DataType, Deployment, DeploymentPlan,
    DeploymentStatus, DirectoryRequest, Field, InputError, Limits, Manifest, ModelInfo,
    ModelOutput, PluginError, PluginKind, PluginRef, Report, Schema, Severity, Task, Violation,
    ViolationCount,
};

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        AlertSink, Analyzer, Batch, BatchBuilder, Column, ColumnData, ColumnView, DataType,
        Deployer, Field, ManifestBuilder, Model, Plugin, PluginError, Predictor, Report,
        ReportBuilder, Result, Schema, Transform, Transformer, Validator, config_error,
        decode_state, encode_state, input_error, internal_error, is_numeric, numeric_columns,
        parse_config, replaced_columns, select_columns, unsupported,
    };
}

include!(concat!(env!("OUT_DIR"), "/export_macros.rs"));

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::ferry::plugin::smtp;
    pub use wit_bindgen;

    use std::cell::RefCell;

    /// Holds a plugin's analyzer behind the `&self` the component model gives resources.
    pub struct AnalyzerCell<A>(pub RefCell<A>);
    /// Holds a plugin's transformer.
    pub struct TransformerCell<T>(pub T);
    /// Holds a plugin's loaded model.
    pub struct PredictorCell<P>(pub P);

    /// What `prepare` built, kept in the instance for the calls after it (contract 0.1.1). The
    /// host snapshots the instance's memory once `prepare` has returned, so every fresh
    /// instance started from the snapshot finds it here.
    pub struct Prepared<T>(RefCell<Option<T>>);

    impl<T> Prepared<T> {
        /// An empty cell.
        pub const fn new() -> Self {
            Self(RefCell::new(None))
        }

        /// Keeps `value` for later calls.
        pub fn set(&self, value: T) {
            *self.0.borrow_mut() = Some(value);
        }

        /// Runs `f` on the prepared value, or fails when `prepare` has not succeeded.
        pub fn run<R>(&self, f: impl FnOnce(&T) -> crate::Result<R>) -> crate::Result<R> {
            match &*self.0.borrow() {
                Some(value) => f(value),
                None => Err(crate::internal_error(
                    "called before `prepare` succeeded in this instance",
                )),
            }
        }
    }

    impl<T> Default for Prepared<T> {
        fn default() -> Self {
            Self::new()
        }
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_plugin {
    ($plugin:ty, $kind:ident) => {
        struct Glue;
        impl exports::ferry::plugin::plugin::Guest for Glue {
            fn get_manifest() -> ::ferry_sdk::Manifest {
                <$plugin as ::ferry_sdk::Plugin>::manifest().build(::ferry_sdk::PluginKind::$kind)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_validator {
    ($plugin:ty) => {
        ::ferry_sdk::__glue_plugin!($plugin, Validator);
        impl exports::ferry::plugin::validator::Guest for Glue {
            fn validate(
                config: String,
                data: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Report, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Validator>::validate(&config, &data)
            }
        }
        ::std::thread_local! {
            static __PREPARED: ::ferry_sdk::__private::Prepared<String> =
                const { ::ferry_sdk::__private::Prepared::new() };
        }
        impl exports::ferry::plugin::prepared_validator::Guest for Glue {
            fn prepare(config: String) -> Result<(), ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Validator>::prepare(&config)?;
                __PREPARED.with(|p| p.set(config));
                Ok(())
            }
            fn validate(
                data: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Report, ::ferry_sdk::PluginError> {
                __PREPARED.with(|p| {
                    p.run(|config| <$plugin as ::ferry_sdk::Validator>::validate(config, &data))
                })
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_transform {
    ($plugin:ty) => {
        ::ferry_sdk::__glue_plugin!($plugin, Transform);
        type __A = <$plugin as ::ferry_sdk::Transform>::Analyzer;
        type __T = <$plugin as ::ferry_sdk::Transform>::Transformer;
        impl exports::ferry::plugin::transform::Guest for Glue {
            type Analyzer = ::ferry_sdk::__private::AnalyzerCell<__A>;
            type Transformer = ::ferry_sdk::__private::TransformerCell<__T>;
            fn new_analyzer(
                config: String,
                input: ::ferry_sdk::Schema,
            ) -> Result<exports::ferry::plugin::transform::Analyzer, ::ferry_sdk::PluginError> {
                let inner = <$plugin as ::ferry_sdk::Transform>::new_analyzer(&config, input)?;
                Ok(exports::ferry::plugin::transform::Analyzer::new(
                    ::ferry_sdk::__private::AnalyzerCell(::std::cell::RefCell::new(inner)),
                ))
            }
            fn new_transformer(
                config: String,
                state: Vec<u8>,
            ) -> Result<exports::ferry::plugin::transform::Transformer, ::ferry_sdk::PluginError>
            {
                let inner = <$plugin as ::ferry_sdk::Transform>::new_transformer(&config, &state)?;
                Ok(exports::ferry::plugin::transform::Transformer::new(
                    ::ferry_sdk::__private::TransformerCell(inner),
                ))
            }
            fn output_schema(
                config: String,
                input: ::ferry_sdk::Schema,
            ) -> Result<::ferry_sdk::Schema, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Transform>::output_schema(&config, &input)
            }
        }
        impl exports::ferry::plugin::transform::GuestAnalyzer
            for ::ferry_sdk::__private::AnalyzerCell<__A>
        {
            fn update(&self, data: ::ferry_sdk::Batch) -> Result<(), ::ferry_sdk::PluginError> {
                ::ferry_sdk::Analyzer::update(&mut *self.0.borrow_mut(), &data)
            }
            fn finish(&self) -> Result<Vec<u8>, ::ferry_sdk::PluginError> {
                ::ferry_sdk::Analyzer::finish(&mut *self.0.borrow_mut())
            }
        }
        impl exports::ferry::plugin::transform::GuestTransformer
            for ::ferry_sdk::__private::TransformerCell<__T>
        {
            fn apply(
                &self,
                data: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Batch, ::ferry_sdk::PluginError> {
                ::ferry_sdk::Transformer::apply(&self.0, &data)
            }
        }
        ::std::thread_local! {
            static __PREPARED: ::ferry_sdk::__private::Prepared<__T> =
                const { ::ferry_sdk::__private::Prepared::new() };
        }
        impl exports::ferry::plugin::prepared_transform::Guest for Glue {
            fn prepare(config: String, state: Vec<u8>) -> Result<(), ::ferry_sdk::PluginError> {
                let inner = <$plugin as ::ferry_sdk::Transform>::new_transformer(&config, &state)?;
                __PREPARED.with(|p| p.set(inner));
                Ok(())
            }
            fn apply(
                data: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Batch, ::ferry_sdk::PluginError> {
                __PREPARED.with(|p| p.run(|t| ::ferry_sdk::Transformer::apply(t, &data)))
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_model {
    ($plugin:ty) => {
        ::ferry_sdk::__glue_plugin!($plugin, Model);
        type __P = <$plugin as ::ferry_sdk::Model>::Predictor;
        impl exports::ferry::plugin::model::Guest for Glue {
            type Predictor = ::ferry_sdk::__private::PredictorCell<__P>;
            fn load(
                artifact: Vec<u8>,
                config: String,
            ) -> Result<exports::ferry::plugin::model::Predictor, ::ferry_sdk::PluginError> {
                let inner = <$plugin as ::ferry_sdk::Model>::load(&artifact, &config)?;
                Ok(exports::ferry::plugin::model::Predictor::new(
                    ::ferry_sdk::__private::PredictorCell(inner),
                ))
            }
            fn train(
                features: ::ferry_sdk::Batch,
                labels: ::ferry_sdk::Column,
                config: String,
            ) -> Result<Vec<u8>, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Model>::train(&features, &labels, &config)
            }
        }
        impl exports::ferry::plugin::model::GuestPredictor
            for ::ferry_sdk::__private::PredictorCell<__P>
        {
            fn describe(&self) -> ::ferry_sdk::ModelInfo {
                ::ferry_sdk::Predictor::describe(&self.0)
            }
            fn predict(
                &self,
                features: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Batch, ::ferry_sdk::PluginError> {
                ::ferry_sdk::Predictor::predict(&self.0, &features)
            }
        }
        ::std::thread_local! {
            static __PREPARED: ::ferry_sdk::__private::Prepared<__P> =
                const { ::ferry_sdk::__private::Prepared::new() };
        }
        impl exports::ferry::plugin::prepared_model::Guest for Glue {
            fn prepare(artifact: Vec<u8>, config: String) -> Result<(), ::ferry_sdk::PluginError> {
                let inner = <$plugin as ::ferry_sdk::Model>::load(&artifact, &config)?;
                __PREPARED.with(|p| p.set(inner));
                Ok(())
            }
            fn predict(
                features: ::ferry_sdk::Batch,
            ) -> Result<::ferry_sdk::Batch, ::ferry_sdk::PluginError> {
                __PREPARED.with(|p| p.run(|m| ::ferry_sdk::Predictor::predict(m, &features)))
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_deployer {
    ($plugin:ty) => {
        ::ferry_sdk::__glue_plugin!($plugin, Deployer);
        impl exports::ferry::plugin::deployer::Guest for Glue {
            fn plan(
                target: ::ferry_sdk::Deployment,
            ) -> Result<::ferry_sdk::DeploymentPlan, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Deployer>::plan(&target)
            }
            fn apply(
                target: ::ferry_sdk::Deployment,
            ) -> Result<::ferry_sdk::DeploymentStatus, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Deployer>::apply(&target)
            }
            fn status(
                name: String,
                settings: String,
            ) -> Result<::ferry_sdk::DeploymentStatus, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Deployer>::status(&name, &settings)
            }
            fn rollback(
                name: String,
                settings: String,
            ) -> Result<::ferry_sdk::DeploymentStatus, ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::Deployer>::rollback(&name, &settings)
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __glue_alert_sink {
    ($plugin:ty) => {
        ::ferry_sdk::__glue_plugin!($plugin, AlertSink);
        impl exports::ferry::plugin::alert_sink::Guest for Glue {
            fn deliver(
                config: String,
                alert: ::ferry_sdk::Alert,
            ) -> Result<(), ::ferry_sdk::PluginError> {
                <$plugin as ::ferry_sdk::AlertSink>::deliver(&config, &alert)
            }
        }
    };
}
