//! A plugin's manifest as the host keeps it, and the checks it must pass.

use serde::{Deserialize, Serialize};

use crate::bindings::types as wit;

/// The `ferry:plugin` contract version this host implements.
pub const CONTRACT_VERSION: semver::Version = semver::Version::new(0, 1, 1);

/// The five plugin kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Checks data.
    Validator,
    /// Computes features.
    Transform,
    /// Predicts (and may train).
    Model,
    /// Deploys models.
    Deployer,
    /// Delivers alerts.
    AlertSink,
}

impl PluginKind {
    /// Every kind.
    pub const ALL: [PluginKind; 5] = [
        PluginKind::Validator,
        PluginKind::Transform,
        PluginKind::Model,
        PluginKind::Deployer,
        PluginKind::AlertSink,
    ];

    /// The kind's name, as manifests and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Validator => "validator",
            PluginKind::Transform => "transform",
            PluginKind::Model => "model",
            PluginKind::Deployer => "deployer",
            PluginKind::AlertSink => "alert-sink",
        }
    }

    /// The WIT interface a plugin of this kind exports.
    pub fn interface(self) -> &'static str {
        self.name()
    }

    /// The WIT world of this kind.
    pub fn world(self) -> String {
        format!("{}-plugin", self.name())
    }

    /// Whether plugins of this kind compute (validators, transforms and models). Their output
    /// must depend only on their configuration, learned state and input, so they run in a
    /// deterministic world: a fixed clock, random bytes seeded from the plugin's digest, and no
    /// files, environment variables or network.
    pub fn is_pure(self) -> bool {
        matches!(
            self,
            PluginKind::Validator | PluginKind::Transform | PluginKind::Model
        )
    }

    /// Whether plugins of this kind may be granted outbound HTTP, directories and environment
    /// variables (deployers and alert sinks, which act on the world).
    pub fn may_use_http(self) -> bool {
        !self.is_pure()
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<wit::PluginKind> for PluginKind {
    fn from(k: wit::PluginKind) -> Self {
        match k {
            wit::PluginKind::Validator => PluginKind::Validator,
            wit::PluginKind::Transform => PluginKind::Transform,
            wit::PluginKind::Model => PluginKind::Model,
            wit::PluginKind::Deployer => PluginKind::Deployer,
            wit::PluginKind::AlertSink => PluginKind::AlertSink,
        }
    }
}

/// A directory a plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryRequest {
    /// The path the plugin expects, e.g. `/out`.
    pub guest_path: String,
    /// Whether it wants to write.
    pub writable: bool,
    /// Why.
    pub purpose: String,
}

/// The access a plugin asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Preopened directories.
    pub directories: Vec<DirectoryRequest>,
    /// Outbound HTTP hosts.
    pub http_hosts: Vec<String>,
    /// Environment variables.
    pub env: Vec<String>,
}

/// Default limits a plugin declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLimits {
    /// Memory cap, in MiB.
    pub memory_mib: Option<u32>,
    /// Call deadline, in milliseconds.
    pub timeout_ms: Option<u32>,
}

/// What a plugin says about itself, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The plugin's name: lowercase letters, digits and single dashes.
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// Its kind.
    pub kind: PluginKind,
    /// The `ferry:plugin` version it was built against.
    pub contract: semver::Version,
    /// What it does.
    pub description: String,
    /// Who wrote it.
    pub authors: Vec<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// Source repository.
    pub repository: Option<String>,
    /// Search keywords.
    pub keywords: Vec<String>,
    /// The access it asks for.
    pub capabilities: Capabilities,
    /// Its default limits.
    pub limits: ManifestLimits,
    /// JSON Schema of its configuration.
    pub config_schema: serde_json::Value,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The name breaks the naming rules.
    #[error("invalid plugin name `{name}`: {why}")]
    Name {
        /// The name given.
        name: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// The version is not semver.
    #[error("invalid version `{version}`: {why}")]
    Version {
        /// The version given.
        version: String,
        /// The parser's complaint.
        why: String,
    },
    /// A validator, transform or model asks for access to the world.
    #[error(
        "a {kind} plugin may not ask for {asked}: a {kind}'s output must depend only on its configuration, learned state and input, so that training and serving compute the same (only deployers and alert sinks are given files, environment variables or the network)"
    )]
    PureKindAsks {
        /// The plugin's kind.
        kind: PluginKind,
        /// What it asks for.
        asked: String,
    },
    /// Some other field is wrong.
    #[error("invalid manifest field `{field}`: {why}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// Checks a plugin name: 1 to 64 characters of `a-z`, `0-9` and `-`, starting with a letter,
/// with no double, leading or trailing dashes. Keeps names unambiguous in paths and URLs.
pub fn check_name(name: &str) -> Result<(), ManifestError> {
    let fail = |why| {
        Err(ManifestError::Name {
            name: name.chars().take(80).collect(),
            why,
        })
    };
    if name.is_empty() || name.len() > 64 {
        return fail("it must be 1 to 64 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return fail("only lowercase ASCII letters, digits and `-` are allowed");
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return fail("it must start with a letter");
    }
    if name.ends_with('-') || name.contains("--") {
        return fail("dashes may not be doubled or end the name");
    }
    Ok(())
}

impl Manifest {
    /// A stand-in used only while a plugin is asked for its real manifest.
    pub(crate) fn placeholder(source: &str, kind: PluginKind, contract: semver::Version) -> Self {
        Manifest {
            name: source.to_string(),
            version: semver::Version::new(0, 0, 0),
            kind,
            contract,
            description: String::new(),
            authors: Vec::new(),
            license: None,
            repository: None,
            keywords: Vec::new(),
            capabilities: Capabilities::default(),
            limits: ManifestLimits::default(),
            config_schema: serde_json::Value::Object(Default::default()),
        }
    }

    /// Checks what a plugin returned from `get-manifest` against the contract version its
    /// exports carry.
    pub fn from_wit(m: wit::Manifest, contract: semver::Version) -> Result<Self, ManifestError> {
        check_name(&m.name)?;
        let version = semver::Version::parse(&m.version).map_err(|e| ManifestError::Version {
            version: m.version.chars().take(80).collect(),
            why: e.to_string(),
        })?;
        let config_schema: serde_json::Value =
            serde_json::from_str(&m.config_schema).map_err(|e| ManifestError::Field {
                field: "config-schema",
                why: format!("not JSON: {e}"),
            })?;
        if !config_schema.is_object() {
            return Err(ManifestError::Field {
                field: "config-schema",
                why: "a JSON Schema must be an object".into(),
            });
        }
        if m.description.len() > 4096 {
            return Err(ManifestError::Field {
                field: "description",
                why: "longer than 4096 bytes".into(),
            });
        }
        let mut directories = Vec::new();
        for d in m.capabilities.directories {
            if !d.guest_path.starts_with('/') || d.guest_path.split('/').any(|s| s == "..") {
                return Err(ManifestError::Field {
                    field: "capabilities.directories",
                    why: format!("`{}` must be an absolute path without `..`", d.guest_path),
                });
            }
            directories.push(DirectoryRequest {
                guest_path: d.guest_path,
                writable: d.writable,
                purpose: d.purpose,
            });
        }
        let kind: PluginKind = m.kind.into();
        if kind.is_pure() {
            let asked: Vec<String> = directories
                .iter()
                .map(|d| format!("directory {}", d.guest_path))
                .chain(m.capabilities.env.iter().map(|e| format!("variable {e}")))
                .chain(
                    m.capabilities
                        .http_hosts
                        .iter()
                        .map(|h| format!("HTTP host {h}")),
                )
                .collect();
            if !asked.is_empty() {
                return Err(ManifestError::PureKindAsks {
                    kind,
                    asked: asked.join(", "),
                });
            }
        }
        Ok(Manifest {
            name: m.name,
            version,
            kind,
            contract,
            description: m.description,
            authors: m.authors,
            license: m.license,
            repository: m.repository,
            keywords: m.keywords,
            capabilities: Capabilities {
                directories,
                http_hosts: m.capabilities.http_hosts,
                env: m.capabilities.env,
            },
            limits: ManifestLimits {
                memory_mib: m.limits.memory_mib,
                timeout_ms: m.limits.timeout_ms,
            },
            config_schema,
        })
    }
}

/// Whether a plugin built against `plugin` can run on a host implementing `host`: same
/// major version (same minor while the major is 0), as semver's caret rule has it.
pub fn contract_compatible(plugin: &semver::Version, host: &semver::Version) -> bool {
    if plugin.major != host.major {
        return false;
    }
    if host.major == 0 {
        return plugin.minor == host.minor;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_strict() {
        for bad in [
            "",
            "Scaler",
            "../etc",
            "a/b",
            "-a",
            "a-",
            "a--b",
            "1abc",
            "sca\u{0131}ler",
            "a b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["standard-scaler", "a", "one-hot2"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn contract_compatibility_follows_caret() {
        let v = |s| semver::Version::parse(s).unwrap();
        assert!(contract_compatible(&v("0.1.3"), &v("0.1.0")));
        assert!(!contract_compatible(&v("0.2.0"), &v("0.1.0")));
        assert!(!contract_compatible(&v("1.0.0"), &v("0.1.0")));
        assert!(contract_compatible(&v("1.4.0"), &v("1.0.0")));
    }
}
