//! Ferry's core: what a model needs to compute, with nothing around it. Data in and out of
//! plugins (CSV, Parquet, JSON lines and request bodies into typed column batches), the step
//! engine that runs validators, transforms and models for training, batch and serving alike,
//! lineage, loading exactly what a lineage pins, a served version's pipeline with its pool of
//! fresh instance sets, evaluation metrics, splits and the drift statistics.
//!
//! It depends on `ferry-runtime` (the sandbox) and `ferry-bundle` (edge bundles) and on no
//! server, database or registry: no axum, hyper, sqlx or `ferry-registry`. The edge build is
//! this crate, the runtime and the bundle reader; the crates above add the registry, training
//! and everything around them. Failures are domain errors ([`CoreError`]), never HTTP answers.
//!
//! Start reading from [`serving::ServingPipeline`], which loads a version through
//! [`pinned::Pins`] and runs it with [`steps::Steps`].

pub mod attempt;
pub mod batch;
pub mod data;
mod error;
pub mod ids;
pub mod lineage;
pub mod metrics;
pub mod pinned;
pub mod serving;
pub mod split;
pub mod stats;
pub mod steps;

pub use attempt::{Attempt, Refusal};
pub use error::CoreError;
pub use lineage::{Lineage, PinnedPlugin};
pub use pinned::Pins;
pub use serving::{DEFAULT_SETS_PER_VERSION, PoolStats, ServingPipeline};
pub use steps::{Prediction, ServeError};
