//! Resource limits of a plugin instance: defaults, the manifest's, and the operator's.

use serde::{Deserialize, Serialize};

/// The limits one plugin runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Linear memory cap of an instance, in MiB.
    pub memory_mib: u32,
    /// Deadline of one call, in milliseconds.
    pub timeout_ms: u32,
    /// The most rows a plugin may return from one call.
    pub max_output_rows: u32,
}

impl Limits {
    /// Ferry's defaults.
    pub const DEFAULT: Limits = Limits {
        memory_mib: 256,
        timeout_ms: 10_000,
        max_output_rows: 10_000_000,
    };

    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize) << 20
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Limits an operator sets for one plugin; each overrides the manifest's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitOverrides {
    /// Memory cap, in MiB.
    pub memory_mib: Option<u32>,
    /// Call deadline, in milliseconds.
    pub timeout_ms: Option<u32>,
    /// Most rows returned by one call.
    pub max_output_rows: Option<u32>,
}

impl LimitOverrides {
    /// Resolves operator overrides over the manifest's defaults over Ferry's.
    pub fn resolve(&self, manifest: &crate::manifest::ManifestLimits) -> Limits {
        let max_mib = (super::engine::MAX_MEMORY_BYTES >> 20) as u32;
        Limits {
            memory_mib: self
                .memory_mib
                .or(manifest.memory_mib)
                .unwrap_or(Limits::DEFAULT.memory_mib)
                .clamp(1, max_mib),
            timeout_ms: self
                .timeout_ms
                .or(manifest.timeout_ms)
                .unwrap_or(Limits::DEFAULT.timeout_ms)
                .max(1),
            max_output_rows: self
                .max_output_rows
                .unwrap_or(Limits::DEFAULT.max_output_rows),
        }
    }
}
