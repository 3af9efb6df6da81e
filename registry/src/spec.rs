//! Plugin specifications: `name`, `name@latest`, `name@^1.2`, `name@1.2.3` (exact), and pins
//! by digest, `name@1.2.3#sha256:…` or `name#sha256:…`.

use semver::{Version, VersionReq};

use crate::RegistryError;

/// Which versions a specification accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// The newest version that is not yanked (a stable one if there is any).
    Latest,
    /// Exactly this version (yanked or not).
    Exact(Version),
    /// A semver range with cargo's rules (pre-releases only when the range names one).
    Range(VersionReq),
}

/// A parsed plugin specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSpec {
    /// The plugin's name.
    pub name: String,
    /// The versions accepted.
    pub requirement: Requirement,
    /// A digest the chosen version must have.
    pub digest: Option<String>,
}

impl PluginSpec {
    /// Parses a specification.
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let invalid = |why: String| RegistryError::Invalid(format!("plugin spec {text:?}: {why}"));
        let (rest, digest) = match text.split_once('#') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (text, None),
        };
        if let Some(d) = &digest {
            crate::blob::check_digest(d).map_err(|e| invalid(e.to_string()))?;
        }
        let (name, req) = match rest.split_once('@') {
            Some((n, r)) => (n, Some(r.trim())),
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(invalid("the name is missing".into()));
        }
        let requirement = match req {
            None | Some("latest") => Requirement::Latest,
            Some("") => return Err(invalid("nothing after `@`".into())),
            Some(r) => match Version::parse(r) {
                Ok(v) => Requirement::Exact(v),
                Err(_) => {
                    Requirement::Range(VersionReq::parse(r).map_err(|e| invalid(e.to_string()))?)
                }
            },
        };
        Ok(Self {
            name: name.to_string(),
            requirement,
            digest,
        })
    }

    /// Whether `version` (yanked or not) satisfies this specification's version part.
    pub fn accepts(&self, version: &Version, yanked: bool) -> bool {
        match &self.requirement {
            Requirement::Exact(v) => v == version,
            // A digest pin may still install a yanked version, as a lock file must.
            _ if yanked && self.digest.is_none() => false,
            Requirement::Latest => true,
            Requirement::Range(r) => r.matches(version),
        }
    }

    /// Picks the version to use among `candidates` (version, yanked, digest).
    pub fn choose<'a, T>(
        &self,
        candidates: &'a [T],
        key: impl Fn(&T) -> (&Version, bool, &str),
    ) -> Option<&'a T> {
        let ok: Vec<&T> = candidates
            .iter()
            .filter(|c| {
                let (v, yanked, digest) = key(c);
                self.accepts(v, yanked) && self.digest.as_deref().is_none_or(|d| d == digest)
            })
            .collect();
        let newest = |items: Vec<&'a T>| items.into_iter().max_by(|a, b| key(a).0.cmp(key(b).0));
        if self.requirement == Requirement::Latest {
            let stable: Vec<&T> = ok
                .iter()
                .copied()
                .filter(|c| key(c).0.pre.is_empty())
                .collect();
            if !stable.is_empty() {
                return newest(stable);
            }
        }
        newest(ok)
    }
}

impl std::fmt::Display for PluginSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        match &self.requirement {
            Requirement::Latest => {}
            Requirement::Exact(v) => write!(f, "@{v}")?,
            Requirement::Range(r) => write!(f, "@{r}")?,
        }
        if let Some(d) = &self.digest {
            write!(f, "#{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn pick(spec: &str, versions: &[(&str, bool)]) -> Option<String> {
        let list: Vec<(Version, bool, String)> = versions
            .iter()
            .map(|(s, y)| (v(s), *y, crate::digest_of(s.as_bytes())))
            .collect();
        let spec = spec.replace("#1.3.0", &format!("#{}", crate::digest_of(b"1.3.0")));
        PluginSpec::parse(&spec)
            .unwrap()
            .choose(&list, |c| (&c.0, c.1, c.2.as_str()))
            .map(|c| c.0.to_string())
    }

    #[test]
    fn resolution_follows_cargo() {
        let all = [
            ("1.0.0", false),
            ("1.2.0", false),
            ("1.3.0", true),
            ("1.4.0-beta.1", false),
            ("2.0.0", false),
        ];
        assert_eq!(pick("p", &all).as_deref(), Some("2.0.0"));
        assert_eq!(pick("p@latest", &all).as_deref(), Some("2.0.0"));
        assert_eq!(
            pick("p@^1.2", &all).as_deref(),
            Some("1.2.0"),
            "yanked 1.3.0 and the pre-release are skipped"
        );
        assert_eq!(
            pick("p@^1.4.0-beta.1", &all).as_deref(),
            Some("1.4.0-beta.1")
        );
        assert_eq!(
            pick("p@1.3.0", &all).as_deref(),
            Some("1.3.0"),
            "an exact version may be yanked"
        );
        assert_eq!(pick("p@>=3", &all), None);
        assert_eq!(
            pick("p@^1#1.3.0", &all).as_deref(),
            Some("1.3.0"),
            "a digest pin reaches a yanked version"
        );
        assert_eq!(pick("p@1.2.0#1.3.0", &all), None);
        assert_eq!(
            pick("p", &[("0.1.0-alpha", false)]).as_deref(),
            Some("0.1.0-alpha")
        );
    }

    #[test]
    fn bad_specs_say_why() {
        for bad in ["", "@1.0", "p@", "p@^x", "p#md5:abc", "p#sha256:XYZ"] {
            let e = PluginSpec::parse(bad).unwrap_err().to_string();
            assert!(e.contains("plugin spec"), "{bad}: {e}");
        }
        let s = PluginSpec::parse(&format!("p@1.2.3#sha256:{}", "a".repeat(64))).unwrap();
        assert_eq!(s.to_string(), format!("p@1.2.3#sha256:{}", "a".repeat(64)));
    }
}
