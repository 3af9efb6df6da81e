//! Digests and ed25519 signatures over them: the primitives both plugin signing and bundle
//! signing rest on.

pub use ed25519_dalek::{SigningKey, VerifyingKey};

use ed25519_dalek::{Signature, Signer, Verifier};
use sha2::{Digest, Sha256};

use crate::BundleError;

/// The content digest Ferry uses everywhere: `sha256:` and the hex SHA-256 of the bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The public key id of a signing key: `ed25519:` and the hex public key.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_bytes()))
}

/// Reads a key id back into a key.
pub fn parse_key(id: &str) -> Result<VerifyingKey, BundleError> {
    let hex_key = id
        .strip_prefix("ed25519:")
        .ok_or_else(|| BundleError::Key(format!("key {id:?} must start with ed25519:")))?;
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            BundleError::Key(format!("key {id:?} must be 64 hex digits after ed25519:"))
        })?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| BundleError::Key(format!("key {id:?}: {e}")))
}

/// Reads a signing key from its hex seed, as `ferry key generate` writes it.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, BundleError> {
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BundleError::Key("a signing key file must hold 64 hex digits".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Signs a digest's text; returns the key id and the hex signature.
pub fn sign_digest(key: &SigningKey, digest: &str) -> (String, String) {
    (
        key_id(&key.verifying_key()),
        hex::encode(key.sign(digest.as_bytes()).to_bytes()),
    )
}

/// Checks that `signature` (hex) by `key` (a key id) signs `digest`.
pub fn verify_digest(key: &str, signature: &str, digest: &str) -> Result<(), BundleError> {
    let public = parse_key(key)?;
    let sig: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| BundleError::Key("a signature must be 128 hex digits".into()))?;
    public
        .verify(digest.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| BundleError::Key(format!("the signature by {key} does not match {digest}")))
}
