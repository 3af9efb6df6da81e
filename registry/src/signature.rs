//! ed25519 signatures over a component's digest, and the policy that decides whose count.

use ed25519_dalek::{SigningKey, VerifyingKey};
use ferry_bundle::integrity;
use sqlx::Row;

use crate::db::now_ms;
use crate::{Registry, RegistryError};

/// A signature: the public key that made it and the signature of the digest's text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PluginSignature {
    /// `ed25519:` and the hex public key.
    pub key: String,
    /// The hex signature of the digest (`sha256:…`) as bytes.
    pub signature: String,
}

fn bad(why: String) -> RegistryError {
    RegistryError::Invalid(why)
}

fn from_key(e: ferry_bundle::BundleError) -> RegistryError {
    bad(e.to_string())
}

pub use ferry_bundle::integrity::key_id;

/// Reads a key id back into a key.
pub fn parse_key(id: &str) -> Result<VerifyingKey, RegistryError> {
    integrity::parse_key(id).map_err(from_key)
}

/// A new random signing key.
pub fn generate_key() -> Result<SigningKey, RegistryError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| RegistryError::Database(format!("no randomness for a key: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a signing key from its hex seed.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, RegistryError> {
    integrity::parse_signing_key(text).map_err(from_key)
}

/// Signs a digest.
pub fn sign(key: &SigningKey, digest: &str) -> PluginSignature {
    let (key, signature) = integrity::sign_digest(key, digest);
    PluginSignature { key, signature }
}

impl PluginSignature {
    /// Checks that this signature is valid for `digest`.
    pub fn verify(&self, digest: &str) -> Result<(), RegistryError> {
        integrity::verify_digest(&self.key, &self.signature, digest).map_err(from_key)
    }
}

/// A trust policy: for plugin names matching a pattern (`acme-*` or an exact name), at least
/// one valid signature from one of the listed keys is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustPolicy {
    /// The rules.
    #[serde(default, rename = "require")]
    pub rules: Vec<TrustRule>,
}

/// One rule of a trust policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrustRule {
    /// `prefix-*` or an exact plugin name.
    pub namespace: String,
    /// Keys (`ed25519:…`) whose signature is accepted.
    pub keys: Vec<String>,
}

impl TrustRule {
    /// Whether the rule governs plugin `name`.
    pub fn matches(&self, name: &str) -> bool {
        match self.namespace.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == self.namespace,
        }
    }
}

impl TrustPolicy {
    /// Whether a key this policy lists for plugin `name` signed `digest`: one of `signatures`
    /// is valid and by a key of a rule that governs the name.
    pub fn vouches(&self, name: &str, digest: &str, signatures: &[PluginSignature]) -> bool {
        self.rules.iter().filter(|r| r.matches(name)).any(|r| {
            signatures
                .iter()
                .any(|s| r.keys.contains(&s.key) && s.verify(digest).is_ok())
        })
    }

    /// Checks the signatures of a plugin against the policy: every signature given must be
    /// valid, and each rule that matches the name needs one from its keys.
    pub fn check(
        &self,
        name: &str,
        digest: &str,
        signatures: &[PluginSignature],
    ) -> Result<(), RegistryError> {
        for s in signatures {
            s.verify(digest)?;
        }
        for rule in &self.rules {
            if rule.matches(name) && !signatures.iter().any(|s| rule.keys.contains(&s.key)) {
                return Err(RegistryError::Invalid(format!(
                    "{name} needs a signature by one of the keys trusted for `{}`, and has {}",
                    rule.namespace,
                    if signatures.is_empty() {
                        "none".to_string()
                    } else {
                        signatures
                            .iter()
                            .map(|s| s.key.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

impl Registry {
    /// Stores a signature of a digest after checking it.
    pub async fn add_signature(
        &self,
        digest: &str,
        signature: &PluginSignature,
    ) -> Result<(), RegistryError> {
        signature.verify(digest)?;
        sqlx::query("INSERT INTO plugin_signatures (digest, key_id, signature, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest, key_id) DO NOTHING")
            .bind(digest)
            .bind(&signature.key)
            .bind(&signature.signature)
            .bind(now_ms())
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// The signatures stored for a digest.
    pub async fn signatures(&self, digest: &str) -> Result<Vec<PluginSignature>, RegistryError> {
        let rows = sqlx::query(
            "SELECT key_id, signature FROM plugin_signatures WHERE digest = $1 ORDER BY key_id",
        )
        .bind(digest)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PluginSignature {
                    key: r.try_get("key_id")?,
                    signature: r.try_get("signature")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_and_policies() {
        let key = generate_key().unwrap();
        let other = generate_key().unwrap();
        let d = crate::digest_of(b"component");
        let s = sign(&key, &d);
        s.verify(&d).unwrap();
        assert!(s.verify(&crate::digest_of(b"other")).is_err());
        let forged = PluginSignature {
            key: key_id(&other.verifying_key()),
            signature: s.signature.clone(),
        };
        assert!(forged.verify(&d).is_err());

        let policy = TrustPolicy {
            rules: vec![TrustRule {
                namespace: "acme-*".into(),
                keys: vec![s.key.clone()],
            }],
        };
        policy
            .check("acme-scaler", &d, std::slice::from_ref(&s))
            .unwrap();
        policy.check("other", &d, &[]).unwrap();
        let e = policy
            .check("acme-scaler", &d, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("needs a signature by one of the keys trusted for `acme-*`"),
            "{e}"
        );
        assert!(
            policy
                .check("acme-scaler", &d, &[sign(&other, &d)])
                .is_err()
        );
        assert!(
            policy.check("x", &d, &[forged]).is_err(),
            "an invalid signature is refused even where none is required"
        );

        assert!(policy.vouches("acme-scaler", &d, std::slice::from_ref(&s)));
        assert!(!policy.vouches("other", &d, std::slice::from_ref(&s)));
        assert!(!policy.vouches("acme-scaler", &d, &[sign(&other, &d)]));
        let claimed = PluginSignature {
            key: s.key.clone(),
            signature: sign(&other, &d).signature,
        };
        assert!(!policy.vouches("acme-scaler", &d, &[claimed]));
        assert!(!policy.vouches("acme-scaler", &crate::digest_of(b"other"), &[s]));
    }
}
