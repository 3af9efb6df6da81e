//! The drift statistics: reference profiles kept at training time, and drift checks of current
//! data against them whose scores equal Evidently's (`DataDriftPreset`, Evidently 0.7 with
//! SciPy).

pub mod drift;
mod ks;
pub mod profile;
pub mod render;
pub mod sample;
pub mod stattest;

pub use drift::{ColumnDrift, DriftError, DriftOptions, DriftReport, compare};
pub use profile::{PROFILE_FORMAT, Profile, Role};
pub use stattest::Method;

#[cfg(test)]
mod tests;
