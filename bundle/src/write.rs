//! Making a bundle.

use std::collections::BTreeSet;
use std::io::Write;

use ed25519_dalek::SigningKey;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

use crate::format::{MANIFEST, SIGNATURE, check_path};
use crate::integrity::sign_digest;
use crate::{BundleError, FORMAT, FileEntry, Manifest, ModelPin, PluginPin, Signature, digest_of};

/// What goes into a bundle.
#[derive(Debug, Clone)]
pub struct BundleContents {
    /// The deployment it is made for.
    pub deployment: String,
    /// The model version it serves.
    pub model: ModelPin,
    /// The plugin components it holds, in pipeline order.
    pub plugins: Vec<PluginPin>,
    /// The raw input schema.
    pub input_schema: Value,
    /// The files, by relative path, in the order they are written.
    pub files: Vec<(String, Vec<u8>)>,
}

fn append(tar: &mut tar::Builder<impl Write>, path: &str, bytes: &[u8]) -> Result<(), BundleError> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)
        .map_err(|e| BundleError::Write(format!("{path}: {e}")))
}

/// Writes a bundle, signed with `key` when one is given. The same contents and key give the
/// same bytes.
pub fn write(contents: &BundleContents, key: Option<&SigningKey>) -> Result<Vec<u8>, BundleError> {
    let mut seen = BTreeSet::new();
    for (path, _) in &contents.files {
        check_path(path).map_err(BundleError::Write)?;
        if path == MANIFEST || path == SIGNATURE {
            return Err(BundleError::Write(format!(
                "{path} is reserved for the bundle itself"
            )));
        }
        if !seen.insert(path.as_str()) {
            return Err(BundleError::Write(format!("{path} is given twice")));
        }
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        deployment: contents.deployment.clone(),
        model: contents.model.clone(),
        plugins: contents.plugins.clone(),
        input_schema: contents.input_schema.clone(),
        files: contents
            .files
            .iter()
            .map(|(path, bytes)| FileEntry {
                path: path.clone(),
                digest: digest_of(bytes),
                size: bytes.len() as u64,
            })
            .collect(),
    };
    let manifest_bytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Write(e.to_string()))?;
    let gz = GzEncoder::new(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    append(&mut tar, MANIFEST, &manifest_bytes)?;
    if let Some(key) = key {
        let (key, signature) = sign_digest(key, &digest_of(&manifest_bytes));
        let sig = serde_json::to_vec_pretty(&Signature { key, signature })
            .map_err(|e| BundleError::Write(e.to_string()))?;
        append(&mut tar, SIGNATURE, &sig)?;
    }
    for (path, bytes) in &contents.files {
        append(&mut tar, path, bytes)?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| BundleError::Write(e.to_string()))?;
    gz.finish().map_err(|e| BundleError::Write(e.to_string()))
}
