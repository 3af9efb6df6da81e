//! Ferry's edge bundle: one file that holds everything a model version needs to serve with no
//! registry behind it: the plugin components, the learned transform states, the model
//! artifact, the lineage that pins them, the input schema and a manifest of digests,
//! optionally signed with the publisher's ed25519 key.
//!
//! A bundle is a gzip-compressed tar archive. Its first entry is `manifest.json`; when the
//! bundle is signed, `signature.json` follows it; then come the files the manifest lists, in
//! the manifest's order and nothing else. The signature covers the manifest's digest, and the
//! manifest covers every file's digest and size, so one check of each reaches every byte.
//! The same version written twice gives the same bytes.
//!
//! [`write`] makes a bundle (it runs inside the `edge-bundle` deployer plugin); [`read`]
//! opens one and refuses any difference from its manifest; [`Bundle::check_trust`] applies a
//! [`Trust`] policy to its signature.

mod error;
mod format;
pub mod integrity;
mod read;
mod trust;
mod write;

pub use error::BundleError;
pub use format::{FORMAT, FileEntry, Manifest, ModelPin, PluginPin, Signature};
pub use integrity::digest_of;
pub use read::{Bundle, read};
pub use trust::Trust;
pub use write::{BundleContents, write};
