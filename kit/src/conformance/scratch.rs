//! Where deployers and alert sinks act while the kit runs them: a fresh folder for every
//! directory the manifest asks for, never the operator's own, so `ferry plugin test` touches
//! no real target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use ferry_runtime::{DirGrant, Grants, Plugin};

/// One fresh folder per directory the plugin asks for.
pub(super) struct Scratch {
    root: TempDir,
    dirs: Vec<DirGrant>,
}

impl Scratch {
    /// Folders for every directory in `plugin`'s manifest, writable where it asks to write.
    pub fn for_plugin(plugin: &Plugin) -> std::io::Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("ferry-plugin-test-")
            .tempdir()?;
        let mut dirs = Vec::new();
        for (i, d) in plugin
            .manifest()
            .capabilities
            .directories
            .iter()
            .enumerate()
        {
            let host_path = root.path().join(format!("dir-{i}"));
            std::fs::create_dir(&host_path)?;
            dirs.push(DirGrant {
                guest_path: d.guest_path.clone(),
                host_path,
                writable: d.writable,
            });
        }
        Ok(Self { root, dirs })
    }

    /// Whether the plugin asked for any directory.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The folders as grants.
    pub fn grants(&self) -> Grants {
        Grants {
            dirs: self.dirs.clone(),
            ..Grants::default()
        }
    }

    /// Every file under the folders, by guest path, with the digest of its contents.
    pub fn snapshot(&self) -> BTreeMap<String, [u8; 32]> {
        let mut out = BTreeMap::new();
        for d in &self.dirs {
            walk(&d.host_path, &d.guest_path, &mut out);
        }
        out
    }

    /// The guest path of the first file whose contents hold `needle`.
    pub fn find(&self, needle: &str) -> Option<String> {
        let mut files = BTreeMap::new();
        for d in &self.dirs {
            walk_files(&d.host_path, &d.guest_path, &mut files);
        }
        files.into_iter().find_map(|(guest, host)| {
            let bytes = std::fs::read(&host).ok()?;
            String::from_utf8_lossy(&bytes)
                .contains(needle)
                .then_some(guest)
        })
    }

    /// Whether anything was written beside the granted folders (it never should be).
    pub fn escaped(&self) -> Vec<String> {
        let granted: Vec<&Path> = self.dirs.iter().map(|d| d.host_path.as_path()).collect();
        std::fs::read_dir(self.root.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| !granted.contains(&e.path().as_path()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn walk_files(dir: &Path, guest: &str, out: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{guest}/{}", e.file_name().to_string_lossy());
        let path = e.path();
        if path.is_dir() {
            walk_files(&path, &name, out);
        } else {
            out.insert(name, path);
        }
    }
}

fn walk(dir: &Path, guest: &str, out: &mut BTreeMap<String, [u8; 32]>) {
    let mut files = BTreeMap::new();
    walk_files(dir, guest, &mut files);
    for (name, path) in files {
        let digest = std::fs::read(&path)
            .map(|b| Sha256::digest(&b).into())
            .unwrap_or([0; 32]);
        out.insert(name, digest);
    }
}
