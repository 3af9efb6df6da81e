//! A registry holds each plugin version once, so a built-in plugin whose bytes change must get a
//! new version. `builtins/versions.toml` records the digest of every built-in version a build
//! of Ferry has carried; this checks each built-in against it. The bytes are reproducible
//! (`ferry-sdk-build` builds each plugin alone, with the Cargo home remapped), so the record
//! holds on any machine.

use std::{collections::BTreeMap, path::Path};

type Recorded = BTreeMap<String, BTreeMap<String, String>>;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests live in the workspace")
}

/// The version in `plugins/<name>/Cargo.toml`, which the SDK's manifest macro reports.
fn version_of(name: &str) -> Result<String, String> {
    let path = root().join("plugins").join(name).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    manifest
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "{} has no version of its own: give it one (`version = \"…\"`), since its bytes \
                 and not the workspace's decide when it must change",
                path.display()
            )
        })
}

#[test]
fn every_built_in_version_has_the_bytes_recorded_for_it() {
    let path = root().join("builtins/versions.toml");
    let recorded: Recorded = toml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut wrong = Vec::new();
    for name in ferry_builtins::names() {
        let bytes = ferry_builtins::bytes(name).unwrap();
        let digest = ferry_registry::digest_of(bytes);
        if ferry_builtins::digest(name) != Some(digest.as_str()) {
            wrong.push(format!(
                "built-in {name}: the digest computed at build time ({:?}) is not that of its \
                 bytes ({digest})",
                ferry_builtins::digest(name)
            ));
        }
        let version = match version_of(name) {
            Ok(v) => v,
            Err(e) => {
                wrong.push(e);
                continue;
            }
        };
        match recorded
            .get(name)
            .and_then(|versions| versions.get(&version))
        {
            Some(d) if *d == digest => {}
            Some(d) => wrong.push(format!(
                "built-in {name} {version} has other bytes ({digest}) than a build of Ferry \
                 already carried as {version} ({d}); a registry keeps the first, so bump the \
                 version in plugins/{name}/Cargo.toml and record the new one under [{name}] in \
                 builtins/versions.toml"
            )),
            None => wrong.push(format!(
                "built-in {name} {version} is not recorded: add `\"{version}\" = \"{digest}\"` \
                 under [{name}] in builtins/versions.toml"
            )),
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
