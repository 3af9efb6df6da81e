//! A `ferry serve` child process on a free port, and PostgreSQL databases of their own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// Customers never seen in training on whom [`Server::train_hostile_churn`]'s version
/// misbehaves, and a trust policy that vouches for the hostile guest.
pub mod hostile {
    use std::path::{Path, PathBuf};

    /// Its validator traps.
    pub const FAIL: &str = "C99901";
    /// Its validator loops until the deadline.
    pub const SLOW: &str = "C99902";
    /// Its validator allocates past the memory cap.
    pub const HUNGRY: &str = "C99903";
    /// Its validator draws random bytes while it validates.
    pub const RANDOM: &str = "C99904";
    /// Its validator spins for a few seconds of CPU (a server started with `--timeout-ms`
    /// above that lets it finish), then passes the row.
    pub const SPIN: &str = "C99905";

    /// A trust policy in `dir` that vouches for plugins of the `hostile` namespace signed by
    /// a new key `acme`: the policy's path and the key's (see [`super::Server::sign_hostile`]).
    pub fn trusted_policy(dir: &Path) -> (PathBuf, PathBuf) {
        let acme = crate::signing_key(dir, "acme");
        let policy = dir.join("trust.toml");
        std::fs::write(
            &policy,
            format!("[[require]]\nnamespace = \"hostile\"\nkeys = [\"{acme}\"]\n"),
        )
        .unwrap();
        (policy, dir.join("acme.key"))
    }
}

/// A running `ferry serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub admin: String,
    pub data: tempfile::TempDir,
    pub cache: std::path::PathBuf,
    pub database_url: Option<String>,
}

impl Server {
    pub fn start(extra: &[&str]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), extra)
    }

    pub fn start_in(data: tempfile::TempDir, extra: &[&str]) -> Self {
        let cache = crate::component_cache();
        let mut command = Command::new(crate::ferry_bin());
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("FERRY_DATA_DIR", data.path())
            .env("FERRY_CACHE_DIR", &cache)
            .env_remove("FERRY_DATABASE_URL");
        let log = data.path().join("server.log");
        let stderr = std::fs::File::create(&log)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let (child, url) = spawn_listening(&mut command, "ferry serving on ", stderr);
        let admin = std::fs::read_to_string(data.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_string();
        let database_url = extra
            .iter()
            .position(|a| *a == "--database-url")
            .map(|i| extra[i + 1].to_string());
        Self {
            child,
            url,
            admin,
            data,
            cache,
            database_url,
        }
    }

    /// Another server on this one's database and blob folder (`extra` must name the same
    /// `--database-url`), with its own admin token file.
    pub fn replica(&self, extra: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::copy(
            self.data.path().join("admin-token"),
            home.path().join("admin-token"),
        )
        .unwrap();
        let data = self.data.path().to_str().unwrap().to_string();
        let mut args = extra.to_vec();
        args.extend_from_slice(&["--data-dir", &data]);
        Self::start_in(home, &args)
    }

    /// `None` while the server runs; once it has exited, how (its status) and the end of what
    /// it wrote to stderr, so a test that finds it gone can say why.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        let log = std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        Some(format!(
            "the server exited ({status}); its stderr ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Stops the server (SIGKILL) and waits for it, keeping its data folder.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server as an operator would (SIGTERM), waits for it to exit and hands back
    /// its data folder: what it holds in memory to write (the prediction log's open segments)
    /// is written first.
    pub fn terminate(mut self) -> tempfile::TempDir {
        let o = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server stopped badly: {status}");
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// Kills the server at once (SIGKILL) and hands back its data folder.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// Runs `ferry` against this server's data folder (for local admin commands).
    pub fn ferry(&self, args: &[&str]) -> Output {
        self.ferry_command(args).output().unwrap()
    }

    /// `ferry` with `args` against this server's data folder, to start as the caller likes.
    pub fn ferry_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::ferry_bin());
        cmd.args(args)
            .env("FERRY_DATA_DIR", self.data.path())
            .env("FERRY_CACHE_DIR", &self.cache)
            .env_remove("FERRY_REGISTRY")
            .env_remove("FERRY_TOKEN")
            .env_remove("FERRY_DATABASE_URL");
        if let Some(url) = &self.database_url {
            cmd.env("FERRY_DATABASE_URL", url);
        }
        cmd
    }

    pub fn token(&self, name: &str, role: &str) -> String {
        let o = self.ferry(&["token", "create", name, "--role", role]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Trains the churn example with `edit` applied to its pipeline; returns the version.
    pub fn train_churn(&self, edit: impl Fn(String) -> String) -> i64 {
        let dir = crate::churn_copy(edit);
        let o = self.ferry(&[
            "train",
            dir.path().join("pipeline.toml").to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["model_version"]["version"].as_i64().unwrap()
    }

    /// Trains a version of the churn example whose hostile validator traps on customer
    /// [`hostile::FAIL`], loops on [`hostile::SLOW`], allocates past its memory cap on
    /// [`hostile::HUNGRY`], draws random bytes on [`hostile::RANDOM`] and spins on
    /// [`hostile::SPIN`]; any other customer is served normally. Returns the version.
    pub fn train_hostile_churn(&self) -> i64 {
        let o = self.ferry(&["plugin", "publish", crate::guests::GUEST_HOSTILE]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        self.train_churn(|t| {
            let mut extra = String::new();
            for (action, customer) in [
                ("panic", hostile::FAIL),
                ("loop", hostile::SLOW),
                ("alloc", hostile::HUNGRY),
                ("random", hostile::RANDOM),
                ("spin", hostile::SPIN),
            ] {
                extra.push_str(&format!(
                    "[[validators]]\nplugin = \"hostile@^0.1\"\nconfig = {{ do = \"{action}\", iterations = 4000000000, when = {{ column = \"customer_id\", equals = \"{customer}\" }} }}\n\n"
                ));
            }
            t.replacen("[[transforms]]", &format!("{extra}[[transforms]]"), 1)
        })
    }

    /// Publishes the hostile guest again, signed with `key` (a copy of it is written in
    /// `dir`).
    pub fn sign_hostile(&self, dir: &std::path::Path, key: &std::path::Path) {
        let wasm = dir.join("hostile.wasm");
        std::fs::copy(crate::guests::GUEST_HOSTILE, &wasm).unwrap();
        let o = self.ferry(&[
            "plugin",
            "publish",
            wasm.to_str().unwrap(),
            "--sign-key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }

    /// Version 1: the churn example. Version 2: much stronger regularisation, so its
    /// probabilities differ.
    pub fn two_churn_versions(&self) {
        assert_eq!(self.train_churn(|t| t), 1);
        assert_eq!(self.train_churn(|t| t.replace("l2 = 1.0", "l2 = 10.0")), 2);
    }

    /// `ferry deploy ARGS` against this server, with `token`.
    pub fn deploy(&self, token: &str, args: &[&str]) -> Output {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--registry", &self.url, "--token", token]);
        self.ferry(&all)
    }

    /// A GET's JSON answer.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        Self::http()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn http() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    pub async fn audit(&self) -> Vec<serde_json::Value> {
        Self::http()
            .get(format!("{}/v1/audit?limit=1000", self.url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn plugin_count(&self) -> usize {
        let found: Vec<serde_json::Value> = Self::http()
            .get(format!("{}/v1/plugins", self.url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found.len()
    }

    /// The sum of the samples of metric `name` on `GET /metrics` whose labels include
    /// `labels` (0 when there are none).
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = Self::http()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
                let found: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
                (metric == name && wanted.iter().all(|w| found.contains(&w.as_str())))
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .sum()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns a server `command` whose first line of output is `PREFIX URL`, its stderr going to
/// `stderr`; returns the child and the URL.
pub fn spawn_listening(command: &mut Command, prefix: &str, stderr: Stdio) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

/// The JSON a successful command printed (`null` when it printed none).
pub fn ok_json(o: Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A PostgreSQL database of its own for one test, dropped at the end.
pub struct PgDatabase {
    name: String,
}

impl PgDatabase {
    pub fn create() -> Self {
        let name = format!(
            "ferry_test_srv_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let o = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql must be installed (Debian: apt-get install postgresql-client)");
        assert!(
            o.status.success(),
            "cannot create a database on PostgreSQL at 127.0.0.1:5432: {}\nThe tests need a \
             PostgreSQL server there with trust auth for the user `postgres`; start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        Self { name }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// Sends `method path` to `addr` (`host:port`) with `headers` and a body of `size` spaces (declared, or chunked when
/// `chunked`), writing it while reading the answer; returns the status (0: none) and the
/// answer's text.
pub async fn send_raw(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    size: usize,
    chunked: bool,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("content-length: {size}\r\n\r\n"));
    }
    let writer = tokio::spawn(async move {
        if write.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            let ok = if chunked {
                let frame = [format!("{n:x}\r\n").as_bytes(), &chunk[..n], b"\r\n"].concat();
                write.write_all(&frame).await
            } else {
                write.write_all(&chunk[..n]).await
            };
            if ok.is_err() {
                return;
            }
            left -= n;
        }
        if chunked {
            let _ = write.write_all(b"0\r\n\r\n").await;
        }
        // Keep the connection open for the answer: a closed half reads as a client gone.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 8192];
    let read_all = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), read_all).await;
    writer.abort();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
