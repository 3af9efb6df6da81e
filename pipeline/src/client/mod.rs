//! A client for another Ferry's HTTP API: the plugin marketplace, and the tracking and model
//! registry a command works against when it is given `--registry URL`.

mod deployments;
mod models;
mod tracking;

use std::sync::Once;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use ferry_registry::{AuditEntry, PackageSummary, PluginSignature, VersionRecord, digest_of};

/// The header that carries a publisher's signature: `ed25519:KEY:SIGNATURE`.
pub const SIGNATURE_HEADER: &str = "x-ferry-signature";
use serde::de::DeserializeOwned;

/// A failed call to a remote registry.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{url}: HTTP {status} {code}: {message}")]
    Api {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached or answered nonsense.
    #[error("{url}: {message}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Downloaded bytes do not match the digest the registry announced.
    #[error("{name} {version}: downloaded bytes hash to {actual}, not {expected}")]
    Digest {
        /// The plugin.
        name: String,
        /// Its version.
        version: String,
        /// The announced digest.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
}

impl ClientError {
    /// The HTTP status, for an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A remote registry at a base URL, with an optional token.
#[derive(Debug, Clone)]
pub struct RemoteRegistry {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl RemoteRegistry {
    /// A client for the registry at `url` (e.g. `http://ferry.internal:8080`).
    pub fn new(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let transport = |message: String| ClientError::Transport {
            url: url.to_string(),
            message,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(transport(
                "the registry URL must start with http:// or https://".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| transport(e.to_string()))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        (url, req)
    }

    async fn send(
        url: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req.send().await.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        // Ferry's API answers `{"error": {"code", "message"}}`, its MLflow API
        // `{"error_code", "message"}`.
        let (code, message) = match &body["error"] {
            serde_json::Value::Object(e) => (e.get("code"), e.get("message")),
            _ => (body.get("error_code"), body.get("message")),
        };
        Err(ClientError::Api {
            url: url.to_string(),
            status,
            code: code
                .and_then(|c| c.as_str())
                .unwrap_or("unknown")
                .to_string(),
            message: message
                .and_then(|m| m.as_str())
                .unwrap_or("no message")
                .to_string(),
        })
    }

    async fn json<T: DeserializeOwned>(
        url: &str,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        resp.json().await.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            message: format!("unexpected answer: {e}"),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let (url, req) = self.request(reqwest::Method::GET, path);
        let resp = Self::send(&url, req.query(query)).await?;
        Self::json(&url, resp).await
    }

    /// Sends `body` as JSON with `method` and reads the JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ClientError> {
        let (url, req) = self.request(method, path);
        let resp = Self::send(&url, req.json(body)).await?;
        Self::json(&url, resp).await
    }

    /// A call of the MLflow REST API (`/api/2.0/mlflow/{path}`).
    async fn mlflow(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.call(method, &format!("/api/2.0/mlflow/{path}"), body)
            .await
    }

    /// The bytes at `path`.
    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let (url, req) = self.request(reqwest::Method::GET, path);
        let resp = Self::send(&url, req).await?;
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| ClientError::Transport {
                url,
                message: e.to_string(),
            })
    }

    fn unexpected(&self, what: &str) -> ClientError {
        ClientError::Transport {
            url: self.base.clone(),
            message: format!("unexpected answer: {what}"),
        }
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The role of this client's token on the server (`None`: anonymous).
    pub async fn role(&self) -> Result<Option<(String, ferry_registry::Role)>, ClientError> {
        let who: serde_json::Value = self.get("/v1/whoami", &[]).await?;
        let role = who["role"].as_str().unwrap_or("anonymous");
        if role == "anonymous" {
            return Ok(None);
        }
        let role =
            ferry_registry::Role::parse(role).map_err(|e| self.unexpected(&e.to_string()))?;
        Ok(Some((
            who["token"].as_str().unwrap_or("?").to_string(),
            role,
        )))
    }

    /// A refusal for a job that needs `role`, said before any of it is done.
    pub fn forbidden(&self, message: String) -> ClientError {
        ClientError::Api {
            url: self.base.clone(),
            status: 403,
            code: "forbidden".into(),
            message,
        }
    }

    /// Searches packages.
    pub async fn search(
        &self,
        text: Option<&str>,
        kind: Option<&str>,
        keyword: Option<&str>,
    ) -> Result<Vec<PackageSummary>, ClientError> {
        let mut q = Vec::new();
        for (k, v) in [("q", text), ("kind", kind), ("keyword", keyword)] {
            if let Some(v) = v {
                q.push((k, v));
            }
        }
        self.get("/v1/plugins", &q).await
    }

    /// One version of a package.
    pub async fn version(
        &self,
        name: &str,
        version: &semver::Version,
    ) -> Result<VersionRecord, ClientError> {
        self.get(&format!("/v1/plugins/{name}/{version}"), &[])
            .await
    }

    /// Every version of a package, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, ClientError> {
        let package: serde_json::Value = self.get(&format!("/v1/plugins/{name}"), &[]).await?;
        serde_json::from_value(package["versions"].clone()).map_err(|e| ClientError::Transport {
            url: self.base.clone(),
            message: format!("unexpected answer: {e}"),
        })
    }

    /// The version a specification resolves to.
    pub async fn resolve(&self, spec: &str) -> Result<VersionRecord, ClientError> {
        self.get("/v1/resolve", &[("spec", spec)]).await
    }

    /// Downloads a version, showing progress on a terminal, and checks its bytes against the
    /// digest.
    pub async fn download(&self, record: &VersionRecord) -> Result<Vec<u8>, ClientError> {
        let path = format!("/v1/plugins/{}/{}/download", record.name, record.version);
        let (url, req) = self.request(reqwest::Method::GET, &path);
        let mut resp = Self::send(&url, req).await?;
        let total = resp.content_length().unwrap_or(record.size);
        let bar = progress_bar(total, &format!("{} {}", record.name, record.version));
        let mut bytes = Vec::with_capacity(total.min(1 << 30) as usize);
        loop {
            let chunk = resp.chunk().await.map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            });
            match chunk {
                Ok(Some(c)) => {
                    bytes.extend_from_slice(&c);
                    bar.set_position(bytes.len() as u64);
                }
                Ok(None) => break,
                Err(e) => {
                    bar.abandon();
                    return Err(e);
                }
            }
        }
        bar.finish_and_clear();
        let actual = digest_of(&bytes);
        if actual != record.digest {
            return Err(ClientError::Digest {
                name: record.name.clone(),
                version: record.version.to_string(),
                expected: record.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Publishes a component, with a signature of its digest if given, showing progress on a
    /// terminal; true when it created a new version.
    pub async fn publish(
        &self,
        bytes: Vec<u8>,
        signature: Option<&PluginSignature>,
        skip_checks: bool,
    ) -> Result<(bool, VersionRecord), ClientError> {
        // The server reads no body before it has checked the token: check it first, so a
        // wrong or missing one is reported as such rather than as an upload cut short.
        if self.role().await?.is_none() {
            return Err(ClientError::Api {
                url: format!("{}/v1/plugins", self.base),
                status: 401,
                code: "unauthenticated".into(),
                message: "publishing needs a token: pass --token (or set FERRY_TOKEN)".into(),
            });
        }
        let path = if skip_checks {
            "/v1/plugins?skip_checks=true"
        } else {
            "/v1/plugins"
        };
        let (url, mut req) = self.request(reqwest::Method::POST, path);
        if let Some(s) = signature {
            req = req.header(SIGNATURE_HEADER, format!("{}:{}", s.key, s.signature));
        }
        let total = bytes.len() as u64;
        let bar = progress_bar(total, "upload");
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
        let counted = bar.clone();
        let stream = futures_util::stream::iter(chunks).map(move |c| {
            if let Ok(c) = &c {
                counted.inc(c.len() as u64);
            }
            c
        });
        let req = req
            .header("content-type", "application/wasm")
            .header("content-length", total)
            .body(reqwest::Body::wrap_stream(stream));
        let resp = Self::send(&url, req).await;
        bar.finish_and_clear();
        let resp = resp?;
        let created = resp.status() == reqwest::StatusCode::CREATED;
        Ok((created, Self::json(&url, resp).await?))
    }

    /// The signatures of a version.
    pub async fn signatures(
        &self,
        record: &VersionRecord,
    ) -> Result<Vec<PluginSignature>, ClientError> {
        self.get(
            &format!("/v1/plugins/{}/{}/signatures", record.name, record.version),
            &[],
        )
        .await
    }

    /// Yanks or un-yanks a version.
    pub async fn yank(
        &self,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> Result<VersionRecord, ClientError> {
        let (url, req) = self.request(
            reqwest::Method::POST,
            &format!("/v1/plugins/{name}/{version}/yank"),
        );
        let resp = Self::send(&url, req.json(&serde_json::json!({ "yanked": yanked }))).await?;
        Self::json(&url, resp).await
    }

    /// Adds an owner to a package; returns the owners.
    pub async fn add_owner(&self, name: &str, owner: &str) -> Result<Vec<String>, ClientError> {
        let (url, req) = self.request(reqwest::Method::POST, &format!("/v1/plugins/{name}/owners"));
        let resp = Self::send(&url, req.json(&serde_json::json!({ "owner": owner }))).await?;
        let body: serde_json::Value = Self::json(&url, resp).await?;
        Ok(body["owners"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The newest audit entries (admins only).
    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, ClientError> {
        self.get("/v1/audit", &[("limit", &limit.to_string())])
            .await
    }
}

/// A byte progress bar on stderr; indicatif draws nothing when stderr is not a terminal.
fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}
