//! What a bundle's manifest and signature say.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The manifest format this crate writes and reads.
pub const FORMAT: &str = "ferry-bundle/1";

/// The manifest: what the bundle is, and the digest and size of every file in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The deployment the bundle was made for.
    pub deployment: String,
    /// The model version it serves.
    pub model: ModelPin,
    /// Every plugin component it holds, in pipeline order, the model adapter last.
    pub plugins: Vec<PluginPin>,
    /// The raw columns a request provides, with their types (from the lineage).
    pub input_schema: Value,
    /// Every file after the manifest (and the signature), in order.
    pub files: Vec<FileEntry>,
}

/// The model version a bundle serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPin {
    /// The registered model's name.
    pub name: String,
    /// Its version number.
    pub version: String,
}

/// A plugin component, pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginPin {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The digest of its component.
    pub digest: String,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its relative path, e.g. `plugins/linear-0.1.0.wasm`.
    pub path: String,
    /// [`crate::digest_of`] its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A signature over the manifest's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id (`ed25519:…`).
    pub key: String,
    /// The hex signature of the manifest's digest text (`sha256:…`).
    pub signature: String,
}

/// Whether `path` may name a file in a bundle: relative, with plain segments.
pub(crate) fn check_path(path: &str) -> Result<(), String> {
    let ok = !path.is_empty()
        && path.len() <= 255
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{path:?} is not a plain relative path (letters, digits, `.`, `-`, `_` and `/`)"
        ))
    }
}

/// The names the format reserves for itself.
pub(crate) const MANIFEST: &str = "manifest.json";
pub(crate) const SIGNATURE: &str = "signature.json";
