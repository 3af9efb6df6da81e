//! Building a plugin's manifest, as `ferry-sdk` builds it: the same builder and macro, so the
//! same plugin source builds as a component or as an Extism plugin.

use crate::wire::{CONTRACT, Capabilities, Limits, Manifest, PluginKind};

/// Starts a manifest for the plugin `name`, with version, description, authors, license and
/// repository taken from the crate's `Cargo.toml`.
#[macro_export]
macro_rules! manifest {
    ($name:expr) => {
        $crate::ManifestBuilder::new($name, env!("CARGO_PKG_VERSION"))
            .description(env!("CARGO_PKG_DESCRIPTION"))
            .authors(
                env!("CARGO_PKG_AUTHORS")
                    .split(':')
                    .filter(|a| !a.is_empty()),
            )
            .license(env!("CARGO_PKG_LICENSE"))
            .repository(env!("CARGO_PKG_REPOSITORY"))
    };
}

/// A manifest under construction; the export macro fills in the kind.
#[derive(Debug, Clone)]
pub struct ManifestBuilder {
    manifest: Manifest,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_string())
}

impl ManifestBuilder {
    /// A manifest with a name and a semantic version.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            manifest: Manifest {
                contract: CONTRACT.to_string(),
                name: name.to_string(),
                version: version.to_string(),
                kind: PluginKind::Validator,
                description: String::new(),
                authors: Vec::new(),
                license: None,
                repository: None,
                keywords: Vec::new(),
                capabilities: Capabilities::default(),
                limits: Limits::default(),
                config_schema: "{}".to_string(),
            },
        }
    }

    /// One line on what the plugin does.
    pub fn description(mut self, text: &str) -> Self {
        self.manifest.description = text.to_string();
        self
    }

    /// The authors.
    pub fn authors<'a>(mut self, authors: impl IntoIterator<Item = &'a str>) -> Self {
        self.manifest.authors = authors.into_iter().map(str::to_string).collect();
        self
    }

    /// An SPDX license expression (ignored when empty).
    pub fn license(mut self, license: &str) -> Self {
        self.manifest.license = non_empty(license);
        self
    }

    /// Where the source lives (ignored when empty).
    pub fn repository(mut self, url: &str) -> Self {
        self.manifest.repository = non_empty(url);
        self
    }

    /// Search keywords.
    pub fn keywords<'a>(mut self, words: impl IntoIterator<Item = &'a str>) -> Self {
        self.manifest.keywords = words.into_iter().map(str::to_string).collect();
        self
    }

    /// Asks for outbound HTTP through Extism's `http_request`; `host` is a host name, or `*`
    /// for any host the operator allows (deployers and alert sinks only). An Extism plugin has
    /// no files, so there is no `directory`.
    pub fn http_host(mut self, host: &str) -> Self {
        self.manifest.capabilities.http_hosts.push(host.to_string());
        self
    }

    /// Asks for a configuration value the operator grants as an environment value, read with
    /// Extism's `config_get` (deployers and alert sinks only).
    pub fn env(mut self, name: &str) -> Self {
        self.manifest.capabilities.env.push(name.to_string());
        self
    }

    /// The default memory cap, in MiB.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.manifest.limits.memory_mib = Some(mib);
        self
    }

    /// The default deadline of one call, in milliseconds.
    pub fn timeout_ms(mut self, ms: u32) -> Self {
        self.manifest.limits.timeout_ms = Some(ms);
        self
    }

    /// The JSON Schema of the configuration.
    pub fn config_schema(mut self, schema: &str) -> Self {
        self.manifest.config_schema = schema.to_string();
        self
    }

    /// The finished manifest for a plugin of `kind`.
    pub fn build(mut self, kind: PluginKind) -> Manifest {
        self.manifest.kind = kind;
        self.manifest
    }
}
