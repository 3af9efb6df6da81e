//! Whose bundles an edge device serves.

use crate::{BundleError, Signature};

/// A trust policy for bundles: the publisher keys whose signature is accepted, and whether an
/// unsigned bundle (or one signed by another key) may be served at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// Accepted publisher keys (`ed25519:…`).
    pub keys: Vec<String>,
    /// Serve bundles no listed key signed.
    pub allow_unsigned: bool,
}

impl Trust {
    /// Judges a bundle's `signature`: one by a listed key passes; anything else passes only
    /// when the policy allows unsigned bundles.
    pub fn check(&self, signature: Option<&Signature>) -> Result<(), BundleError> {
        let trust = self;
        match signature {
            Some(sig) if trust.keys.contains(&sig.key) => Ok(()),
            _ if trust.allow_unsigned => Ok(()),
            Some(sig) => Err(BundleError::Untrusted(format!(
                "it is signed by {}, which is not among the trusted keys ({})",
                sig.key,
                if trust.keys.is_empty() {
                    "none given".to_string()
                } else {
                    trust.keys.join(", ")
                }
            ))),
            None => Err(BundleError::Untrusted(
                "it is unsigned, and unsigned bundles are not allowed".into(),
            )),
        }
    }
}
