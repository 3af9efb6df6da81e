//! Where plugin commands read and write: the local registry, or a remote Ferry's.

use ferry_host::client::RemoteRegistry;
use ferry_host::runtime::Runtime;
use ferry_registry::{PackageSummary, PluginSpec, Registry, SearchQuery, VersionRecord};

use crate::cli::{Exit, RegistryArgs};

/// A registry to talk to.
pub enum Source {
    /// The local data folder.
    Local(Registry),
    /// Another Ferry over HTTP.
    Remote(RemoteRegistry),
}

impl RegistryArgs {
    /// The remote registry when `--registry` is given, the local one otherwise.
    pub async fn source(&self, runtime: &Runtime) -> Result<Source, Exit> {
        match &self.registry {
            Some(url) => Ok(Source::Remote(RemoteRegistry::new(
                url,
                self.token.clone(),
            )?)),
            None => Ok(Source::Local(self.open(runtime).await?)),
        }
    }
}

impl Source {
    /// Searches packages.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<PackageSummary>, Exit> {
        Ok(match self {
            Source::Local(r) => r.search(query).await?,
            Source::Remote(c) => {
                c.search(
                    query.text.as_deref(),
                    query.kind.as_deref(),
                    query.keyword.as_deref(),
                )
                .await?
            }
        })
    }

    /// Every version of a package.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, Exit> {
        Ok(match self {
            Source::Local(r) => r.versions(name).await?,
            Source::Remote(c) => c.versions(name).await?,
        })
    }

    /// Resolves a specification.
    pub async fn resolve(&self, spec: &PluginSpec) -> Result<VersionRecord, Exit> {
        Ok(match self {
            Source::Local(r) => r.resolve(spec).await?,
            Source::Remote(c) => c.resolve(&spec.to_string()).await?,
        })
    }

    /// The signatures of a version.
    pub async fn signatures(
        &self,
        record: &VersionRecord,
    ) -> Result<Vec<ferry_registry::PluginSignature>, Exit> {
        Ok(match self {
            Source::Local(r) => r.signatures(&record.digest).await?,
            Source::Remote(c) => c.signatures(record).await?,
        })
    }

    /// The bytes of a version, checked against its digest.
    pub async fn download(&self, record: &VersionRecord) -> Result<Vec<u8>, Exit> {
        Ok(match self {
            Source::Local(r) => r.download(record).await?,
            Source::Remote(c) => c.download(record).await?,
        })
    }
}
