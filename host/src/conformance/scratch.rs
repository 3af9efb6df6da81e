//! Where deployers and alert sinks act while the kit runs them: a fresh folder for every
//! directory the manifest asks for, and a loopback HTTP listener that records what reaches it.
//! The operator's own grants are never used, so `ferry plugin test` touches no real target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::runtime::{DirGrant, Grants, Plugin};

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

/// A request that reached the listener.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Clone)]
struct Recorder {
    answer: StatusCode,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A loopback HTTP server that answers every request with one status and records it.
pub(super) struct Listener {
    host: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Starts listening on a free loopback port.
    pub async fn start(answer: StatusCode) -> std::io::Result<Self> {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = socket.local_addr()?.to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(Recorder {
            answer,
            received: received.clone(),
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(socket, app).await;
        });
        Ok(Self {
            host,
            received,
            task,
        })
    }

    /// `127.0.0.1:PORT`, as an HTTP grant names it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What reached it so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// `config` with every `http://` or `https://` URL in it pointed at this listener, path and
    /// query kept.
    pub fn redirect(&self, config: &str) -> String {
        match serde_json::from_str::<Value>(config) {
            Ok(mut value) => {
                self.redirect_value(&mut value);
                value.to_string()
            }
            Err(_) => config.to_string(),
        }
    }

    fn redirect_value(&self, value: &mut Value) {
        match value {
            Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
                if let Ok(url) = url::Url::parse(s) {
                    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
                    *s = format!("http://{}{}{query}", self.host, url.path());
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redirect_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redirect_value(v)),
            _ => {}
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(r): State<Recorder>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> (StatusCode, &'static str) {
    if let Ok(mut received) = r.received.lock() {
        received.push(Received {
            method: method.to_string(),
            path: uri.path().to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    (
        r.answer,
        if r.answer.is_success() {
            "ok"
        } else {
            "unavailable"
        },
    )
}
