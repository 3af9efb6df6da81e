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

/// `config` (JSON) with every `http://` or `https://` URL in it pointed at `http` (path and
/// query kept) and, where `smtp` is given, every `HOST:PORT` pointed at it.
pub(super) fn point_at(config: &str, http: &str, smtp: Option<&str>) -> String {
    fn walk(value: &mut Value, http: &str, smtp: Option<&str>) {
        match value {
            Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
                if let Ok(url) = url::Url::parse(s) {
                    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
                    *s = format!("http://{http}{}{query}", url.path());
                }
            }
            Value::String(s) if smtp.is_some() && is_host_port(s) => {
                *s = smtp.unwrap_or_default().to_string();
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, http, smtp)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, http, smtp)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(config) {
        Ok(mut value) => {
            walk(&mut value, http, smtp);
            value.to_string()
        }
        Err(_) => config.to_string(),
    }
}

/// `name:port`, as a relay is named.
fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            && port.parse::<u16>().is_ok()
    })
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

/// A loopback SMTP relay that speaks just enough of the protocol for one plain session at a
/// time, and accepts (250) or refuses (554) each message at the end of its data.
pub(super) struct SmtpListener {
    host: String,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpListener {
    /// Starts listening on a free loopback port.
    pub async fn start(accept: bool) -> std::io::Result<Self> {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = socket.local_addr()?.to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let inbox = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                let inbox = inbox.clone();
                tokio::spawn(async move {
                    let _ = smtp_session(stream, accept, inbox).await;
                });
            }
        });
        Ok(Self {
            host,
            received,
            task,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The messages (headers and body) accepted or refused so far.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for SmtpListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    accept: bool,
    inbox: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 ferry-plugin-test ESMTP\r\n").await?;
    let mut data: Option<String> = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(message) = data.as_mut() {
            if line == "." {
                if let Ok(mut inbox) = inbox.lock() {
                    inbox.push(std::mem::take(message));
                }
                data = None;
                let reply: &[u8] = if accept {
                    b"250 queued\r\n"
                } else {
                    b"554 refused by ferry plugin test\r\n"
                };
                write.write_all(reply).await?;
            } else {
                message.push_str(line.strip_prefix('.').unwrap_or(&line));
                message.push('\n');
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-ferry-plugin-test\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                data = Some(String::new());
                b"354 end with <CRLF>.<CRLF>\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
