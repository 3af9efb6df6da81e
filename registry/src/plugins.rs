//! Plugin packages: immutable versions, yanking, resolution, search and downloads.

use semver::Version;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::now_ms;
use crate::{PluginSpec, Registry, RegistryError};

/// A version to publish, described by the plugin's checked manifest.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The plugin's name (already checked by the host).
    pub name: String,
    /// Its version.
    pub version: Version,
    /// Its kind (`transform`, ...).
    pub kind: String,
    /// The `ferry:plugin` version it targets.
    pub contract: String,
    /// What it does.
    pub description: String,
    /// SPDX license.
    pub license: Option<String>,
    /// Source repository.
    pub repository: Option<String>,
    /// Authors.
    pub authors: Vec<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// The whole manifest, as JSON.
    pub manifest: serde_json::Value,
    /// Who publishes it.
    pub publisher: Option<String>,
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VersionRecord {
    /// The plugin's name.
    pub name: String,
    /// The version.
    #[schema(value_type = String)]
    pub version: Version,
    /// `sha256:…` of the component.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Kind.
    pub kind: String,
    /// Contract version.
    pub contract: String,
    /// Description.
    pub description: String,
    /// License.
    pub license: Option<String>,
    /// Repository.
    pub repository: Option<String>,
    /// Authors.
    pub authors: Vec<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// The manifest.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    /// Whether ranges skip it.
    pub yanked: bool,
    /// When it was published (ms since the epoch).
    pub published_at: i64,
    /// Who published it.
    pub publisher: Option<String>,
    /// How often it was downloaded.
    pub downloads: u64,
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A new version was stored.
    Created(VersionRecord),
    /// The same bytes were already published under this version: nothing changed.
    Unchanged(VersionRecord),
}

impl Published {
    /// The version record either way.
    pub fn record(&self) -> &VersionRecord {
        match self {
            Published::Created(r) | Published::Unchanged(r) => r,
        }
    }
}

/// A package in search results.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PackageSummary {
    /// The newest version that is not yanked (or the newest of all).
    pub latest: VersionRecord,
    /// Every version, newest first, with its yanked flag.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub versions: Vec<(String, bool)>,
    /// Downloads of all versions.
    pub downloads: u64,
}

/// What to search for; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// Words that must appear in the name, description or keywords.
    pub text: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only packages with this keyword.
    pub keyword: Option<String>,
}

const COLUMNS: &str = "name, version, digest, size, kind, contract, description, license, repository, authors, keywords, manifest, yanked, published_at, publisher, downloads";

fn record(row: &AnyRow) -> Result<VersionRecord, RegistryError> {
    let text = |c: &str| row.try_get::<String, _>(c);
    let version: String = text("version")?;
    let json = |c: &str| -> Result<serde_json::Value, RegistryError> {
        serde_json::from_str(&text(c)?)
            .map_err(|e| RegistryError::Database(format!("stored {c} is not JSON: {e}")))
    };
    let list = |c: &str| -> Result<Vec<String>, RegistryError> {
        serde_json::from_value(json(c)?)
            .map_err(|e| RegistryError::Database(format!("stored {c}: {e}")))
    };
    Ok(VersionRecord {
        name: text("name")?,
        version: Version::parse(&version)
            .map_err(|e| RegistryError::Database(format!("stored version {version:?}: {e}")))?,
        digest: text("digest")?,
        size: row.try_get::<i64, _>("size")? as u64,
        kind: text("kind")?,
        contract: text("contract")?,
        description: text("description")?,
        license: row.try_get("license")?,
        repository: row.try_get("repository")?,
        authors: list("authors")?,
        keywords: list("keywords")?,
        manifest: json("manifest")?,
        yanked: row.try_get::<i64, _>("yanked")? != 0,
        published_at: row.try_get("published_at")?,
        publisher: row.try_get("publisher")?,
        downloads: row.try_get::<i64, _>("downloads")? as u64,
    })
}

fn newest_first(records: &mut [VersionRecord]) {
    records.sort_by(|a, b| b.version.cmp(&a.version));
}

impl Registry {
    /// Publishes `bytes` as a version. A (name, version) is immutable: the same bytes again
    /// change nothing, other bytes are a conflict. The blob is written first and the version
    /// row last, in one statement, so a crash never leaves a version without its bytes.
    pub async fn publish(&self, new: NewVersion, bytes: &[u8]) -> Result<Published, RegistryError> {
        let digest = crate::digest_of(bytes);
        if let Ok(existing) = self.version(&new.name, &new.version).await {
            return if existing.digest == digest {
                Ok(Published::Unchanged(existing))
            } else {
                Err(RegistryError::Conflict(format!(
                    "{} {} is already published with other bytes ({}); versions are immutable, publish a new version (a rebuild of a Python or JavaScript plugin gives other bytes: their builds are not reproducible)",
                    new.name, new.version, existing.digest
                )))
            };
        }
        let pool = self.db().pool();
        let now = now_ms();
        sqlx::query("INSERT INTO plugin_packages (name, kind, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(&new.name)
            .bind(&new.kind)
            .bind(now)
            .execute(pool)
            .await?;
        let kind: String = sqlx::query("SELECT kind FROM plugin_packages WHERE name = $1")
            .bind(&new.name)
            .fetch_one(pool)
            .await?
            .try_get("kind")?;
        if kind != new.kind {
            return Err(RegistryError::Conflict(format!(
                "{} is a {kind} package; a {} cannot be published under its name",
                new.name, new.kind
            )));
        }
        let stored = self.blobs().put(bytes).await?;
        debug_assert_eq!(stored, digest);
        let to_json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let inserted = sqlx::query(
            "INSERT INTO plugin_versions (name, version, digest, size, kind, contract, description, license, repository, authors, keywords, manifest, yanked, published_at, publisher, downloads) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14, 0) ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(&new.name)
        .bind(new.version.to_string())
        .bind(&digest)
        .bind(bytes.len() as i64)
        .bind(&new.kind)
        .bind(&new.contract)
        .bind(&new.description)
        .bind(&new.license)
        .bind(&new.repository)
        .bind(to_json(&new.authors))
        .bind(to_json(&new.keywords))
        .bind(new.manifest.to_string())
        .bind(now)
        .bind(&new.publisher)
        .execute(pool)
        .await?
        .rows_affected();
        let stored = self.version(&new.name, &new.version).await?;
        if inserted == 1 {
            Ok(Published::Created(stored))
        } else if stored.digest == digest {
            Ok(Published::Unchanged(stored))
        } else {
            Err(RegistryError::Conflict(format!(
                "{} {} was just published with other bytes ({})",
                new.name, new.version, stored.digest
            )))
        }
    }

    /// Whether some published version has exactly these bytes.
    pub async fn has_digest(&self, digest: &str) -> Result<bool, RegistryError> {
        let row = sqlx::query("SELECT 1 AS one FROM plugin_versions WHERE digest = $1 LIMIT 1")
            .bind(digest)
            .fetch_optional(self.db().pool())
            .await?;
        Ok(row.is_some())
    }

    /// One version.
    pub async fn version(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<VersionRecord, RegistryError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM plugin_versions WHERE name = $1 AND version = $2"
        ))
        .bind(name)
        .bind(version.to_string())
        .fetch_optional(self.db().pool())
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("plugin {name} {version}")))?;
        record(&row)
    }

    /// Every version of a package, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM plugin_versions WHERE name = $1"
        ))
        .bind(name)
        .fetch_all(self.db().pool())
        .await?;
        let mut out = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        if out.is_empty() {
            return Err(RegistryError::NotFound(format!("plugin {name}")));
        }
        newest_first(&mut out);
        Ok(out)
    }

    /// The version a specification resolves to.
    pub async fn resolve(&self, spec: &PluginSpec) -> Result<VersionRecord, RegistryError> {
        let versions = self.versions(&spec.name).await?;
        spec.choose(&versions, |r| (&r.version, r.yanked, r.digest.as_str()))
            .cloned()
            .ok_or_else(|| {
                let listed: Vec<String> = versions
                    .iter()
                    .map(|r| {
                        if r.yanked {
                            format!("{} (yanked)", r.version)
                        } else {
                            r.version.to_string()
                        }
                    })
                    .collect();
                RegistryError::NotFound(format!(
                    "no version of {} matches {spec}; there are: {}",
                    spec.name,
                    listed.join(", ")
                ))
            })
    }

    /// Yanks (or un-yanks) a version: ranges skip it, exact versions and digest pins still
    /// reach it.
    pub async fn set_yanked(
        &self,
        name: &str,
        version: &Version,
        yanked: bool,
    ) -> Result<VersionRecord, RegistryError> {
        let n =
            sqlx::query("UPDATE plugin_versions SET yanked = $1 WHERE name = $2 AND version = $3")
                .bind(i64::from(yanked))
                .bind(name)
                .bind(version.to_string())
                .execute(self.db().pool())
                .await?
                .rows_affected();
        if n == 0 {
            return Err(RegistryError::NotFound(format!("plugin {name} {version}")));
        }
        self.version(name, version).await
    }

    /// The component bytes of a version, checked against its digest, counting a download.
    pub async fn download(&self, record: &VersionRecord) -> Result<Vec<u8>, RegistryError> {
        let bytes = self.blobs().get(&record.digest).await?;
        sqlx::query(
            "UPDATE plugin_versions SET downloads = downloads + 1 WHERE name = $1 AND version = $2",
        )
        .bind(&record.name)
        .bind(record.version.to_string())
        .execute(self.db().pool())
        .await?;
        Ok(bytes)
    }

    /// Packages matching a query, by name.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<PackageSummary>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM plugin_versions ORDER BY name"
        ))
        .fetch_all(self.db().pool())
        .await?;
        let all = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        let mut out: Vec<PackageSummary> = Vec::new();
        for chunk in all.chunk_by(|a, b| a.name == b.name) {
            let mut versions = chunk.to_vec();
            newest_first(&mut versions);
            let latest = versions
                .iter()
                .find(|v| !v.yanked && v.version.pre.is_empty())
                .or_else(|| versions.iter().find(|v| !v.yanked))
                .unwrap_or(&versions[0])
                .clone();
            if query.kind.as_deref().is_some_and(|k| k != latest.kind) {
                continue;
            }
            if let Some(k) = &query.keyword
                && !latest.keywords.iter().any(|w| w.eq_ignore_ascii_case(k))
            {
                continue;
            }
            if let Some(text) = &query.text {
                let hay = format!(
                    "{} {} {}",
                    latest.name,
                    latest.description,
                    latest.keywords.join(" ")
                )
                .to_lowercase();
                if !text
                    .to_lowercase()
                    .split_whitespace()
                    .all(|w| hay.contains(w))
                {
                    continue;
                }
            }
            out.push(PackageSummary {
                downloads: versions.iter().map(|v| v.downloads).sum(),
                versions: versions
                    .iter()
                    .map(|v| (v.version.to_string(), v.yanked))
                    .collect(),
                latest,
            });
        }
        Ok(out)
    }
}
